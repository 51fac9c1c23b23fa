#!/bin/sh
# Installs the Debian packages a board needs when they are missing.
# Usage: boards/deps.sh PACKAGE...   (the Makefile passes its board's BOARD_DEPS;
#        `make print-deps` prints them)
# A package named "pkg:arch" (libmbedtls-dev:armhf) turns on dpkg's multiarch
# for that arch first. Exits 0 when everything is present; otherwise installs
# with apt-get (through sudo when not root, if sudo needs no password) or
# stops with exactly one line naming what to install.
set -u

[ $# -gt 0 ] || exit 0

# Not a Debian system: nothing to check against. Say once what the build
# needs and let the compiler report anything really missing.
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "gust: cannot check packages without dpkg; the build needs (Debian names): $* (NO_DEPS=1 skips this)" >&2
    exit 0
fi

missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "gust: missing packages; install them with your package manager:$missing" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "gust: missing packages; run: sudo apt-get install -y$missing" >&2
    exit 1
fi

for p in $missing; do
    case "$p" in
    *:*)
        arch=${p#*:}
        if ! dpkg --print-foreign-architectures | grep -qx "$arch" && [ "$arch" != "$(dpkg --print-architecture)" ]; then
            $SUDO dpkg --add-architecture "$arch" || {
                echo "gust: could not enable $arch packages; run: sudo dpkg --add-architecture $arch && sudo apt-get update && sudo apt-get install -y$missing" >&2
                exit 1
            }
        fi
        ;;
    esac
done

echo "gust: installing$missing" >&2
# A mirror may be mid-sync (foreign-architecture indexes especially): update
# can then fail while the install still works, or the install fails once and
# works after a fresh update. So: update, install, and on failure try twice more.
tries=0
while :; do
    $SUDO apt-get update -qq >/dev/null 2>&1 || echo "gust: apt-get update reported errors; trying the install anyway" >&2
    # shellcheck disable=SC2086
    if DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
        exit 0
    fi
    tries=$((tries + 1))
    [ "$tries" -ge 3 ] && break
    echo "gust: install failed; retrying in $((tries * 10)) s" >&2
    sleep $((tries * 10))
done
echo "gust: could not install; run: sudo apt-get update && sudo apt-get install -y$missing" >&2
exit 1
