#!/bin/sh
# Installs the Debian packages a board needs when they are missing.
# Usage: boards/deps.sh [--arch ARCH] PACKAGE...
# A package named "pkg:arch" needs dpkg's multiarch for that arch.
# Exits 0 when everything is present; otherwise installs with apt-get
# (through sudo when not root) or stops with one line naming what to install.
set -u

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
        dpkg --print-foreign-architectures | grep -qx "$arch" || $SUDO dpkg --add-architecture "$arch"
        ;;
    esac
done

echo "gust: installing$missing" >&2
# update can exit non-zero while a foreign index is being synced; installs still work.
$SUDO apt-get update -qq >/dev/null 2>&1 || echo "gust: apt-get update reported errors; trying the install anyway" >&2
if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
    echo "gust: could not install; run: sudo apt-get install -y$missing" >&2
    exit 1
fi
exit 0
