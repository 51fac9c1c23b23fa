#!/bin/sh
# Fetches qemu-user 10 from Debian 12's backports (bookworm-backports) and
# keeps the emulators a board names, for boards whose tests Debian 12's own
# qemu-user-static (7.2) gets wrong: it hands getsockopt(SO_ERROR)'s errno
# through untranslated, so on MIPS (whose errno numbers differ from x86's) a
# refused connect reads as errno 111 instead of 146. Newer qemu translates it.
# Usage: boards/qemu-backports.sh OUT_DIR ARCH...  (e.g. build/qemu mips mipsel)
# Result: OUT_DIR/qemu-ARCH, static binaries; nothing is installed on the
# system. Does nothing when they are there already. Env: NO_DEPS=1.
set -u

out=${1:?usage: boards/qemu-backports.sh OUT_DIR ARCH...}
shift
case "$out" in /*) ;; *) out=$(pwd)/$out ;; esac
cd "$(dirname "$0")/.." || exit 1
. boards/private-apt.sh

fail() {
    echo "gust: qemu from bookworm-backports: $*" >&2
    exit 1
}

have_all() {
    for a in "$@"; do
        [ -x "$out/qemu-$a" ] || return 1
    done
}
have_all "$@" && exit 0

[ "${NO_DEPS:-}" = 1 ] || sh boards/deps.sh dpkg-dev xz-utils || exit 1
mkdir -p "$out" || fail "cannot create $out"
# One fetch at a time (parallel makes, several boards).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.lock"
    flock 9
    have_all "$@" && exit 0
fi

apt=$out/apt
private_apt_init "$apt" deb bookworm-backports || fail "cannot set up apt"
# About 60 MB, once per build folder.
(cd "$apt" && private_apt "$apt" download qemu-user) >"$apt/download.log" 2>&1 ||
    fail "cannot download qemu-user (see $apt/download.log)"
deb=$(ls "$apt"/qemu-user_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no qemu-user package in $apt"
for a in "$@"; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -O "./usr/bin/qemu-$a" >"$out/qemu-$a.tmp" &&
        chmod 755 "$out/qemu-$a.tmp" && mv "$out/qemu-$a.tmp" "$out/qemu-$a" ||
        fail "qemu-user has no usr/bin/qemu-$a"
done
rm -rf "$apt"
have_all "$@" || fail "incomplete result in $out"
