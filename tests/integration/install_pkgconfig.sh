#!/bin/sh
# `make install` into a DESTDIR, then build and run the README's example
# against that install through pkg-config, exactly as an application would.
# Also compiles every installed header on its own. Env: BUILD (a host build),
# SANITIZE (set for build/host-san; also detected from the library).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/host}
CXX=${CXX:-g++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

fail() { echo "install_pkgconfig: $*" >&2; exit 1; }

if [ -n "${RUNNER:-}" ]; then
    echo "host only: installs the host build and links a program with the host compiler"
    exit 77
fi

# A sanitized library needs the sanitizer runtime at link time; gust.pc then says so.
if [ -z "${SANITIZE:-}" ] && [ -f "$BUILD/libgust.a" ] && nm "$BUILD/libgust.a" 2>/dev/null | grep -q ' U __asan_'; then
    SANITIZE=1
fi

# Not a sub-make of the `make test` that runs us: no inherited jobserver or flags.
unset MAKEFLAGS MFLAGS MAKELEVEL
make -s --no-print-directory BOARD=host BUILD="$BUILD" NO_DEPS=1 SANITIZE="${SANITIZE:-}" \
    DESTDIR="$tmp" PREFIX=/usr install || fail "make install failed"

root=$tmp/usr
for f in lib/libgust.a lib/pkgconfig/gust.pc include/gust/gust.hpp include/gust/board.hpp include/gust/config.hpp; do
    [ -f "$root/$f" ] || fail "not installed: /usr/$f"
done
for h in include/gust/*.hpp; do
    [ -f "$root/$h" ] || fail "header not installed: /usr/$h"
done
cmp -s boards/host/board.hpp "$root/include/gust/board.hpp" || fail "installed board.hpp is not boards/host/board.hpp"
[ ! -e "$root/include/gust/port.hpp" ] && [ ! -e "$root/include/gust/port/port.hpp" ] || fail "internal port.hpp was installed"
grep -q '^prefix=/usr$' "$root/lib/pkgconfig/gust.pc" || fail "gust.pc does not carry PREFIX=/usr"

# Only the DESTDIR's .pc files, with their paths moved under the DESTDIR.
export PKG_CONFIG_LIBDIR="$root/lib/pkgconfig" PKG_CONFIG_PATH= PKG_CONFIG_SYSROOT_DIR="$tmp"
pkg-config --exists gust || fail "pkg-config does not find gust"
flags=$(pkg-config --cflags --libs gust)
# An mbedTLS prefix given by MBEDTLS_DIR (make MBEDTLS=3.6) is not staged: the
# sysroot must not move it, or the system's mbedTLS would be used instead.
moved=
for f in $flags; do
    case "$f" in
    -I"$tmp"/* | -L"$tmp"/*)
        p=${f#-?}
        [ ! -e "$p" ] && [ -d "${p#"$tmp"}" ] && f=${f%"$p"}${p#"$tmp"}
        ;;
    esac
    moved="$moved $f"
done
flags=${moved# }
echo "pkg-config --cflags --libs gust: $flags"
case "$flags" in *"-I$root/include"*"-L$root/lib"*"-lgust"*) ;; *) fail "unexpected pkg-config flags" ;; esac

# Every public header stands on its own, with nothing but the installed tree.
for h in "$root"/include/gust/*.hpp; do
    name=gust/$(basename "$h")
    printf '#include <%s>\n' "$name" >"$tmp/one.cpp"
    # shellcheck disable=SC2086
    $CXX -fsyntax-only -Wall -Wextra -Werror $flags "$tmp/one.cpp" || fail "<$name> does not compile on its own"
done

# The README's example (the block after the marker) and what it prints.
block() {
    awk -v want="$1" '
        /<!-- tested by tests\/integration\/install_pkgconfig.sh -->/ { armed = 1; next }
        armed && /^```/ && !inside { n++; inside = 1; next }
        armed && /^```/ && inside { inside = 0; if (n == want) exit; next }
        armed && inside && n == want { print }
    ' README.md
}
block 1 >"$tmp/example.cpp"
block 2 >"$tmp/expected.txt"
[ -s "$tmp/example.cpp" ] && [ -s "$tmp/expected.txt" ] || fail "README.md has no tested example block"

# shellcheck disable=SC2086
$CXX -Wall -Wextra -Werror -O1 -o "$tmp/example" "$tmp/example.cpp" $flags || fail "the README example does not compile"
"$tmp/example" >"$tmp/output.txt" || fail "the README example exited $?"
if ! cmp -s "$tmp/expected.txt" "$tmp/output.txt"; then
    echo "expected:"; cat "$tmp/expected.txt"
    echo "got:"; cat "$tmp/output.txt"
    fail "the README example printed something else"
fi
cat "$tmp/output.txt"
echo "install_pkgconfig: ok"
