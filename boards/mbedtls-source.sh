#!/bin/sh
# Builds mbedTLS from Debian's source package: 3.6 LTS from Debian 13
# (trixie), for boards whose distribution has no 3.6 package (Debian 12 ships
# 2.28), or 2.28 LTS from Debian 12 (bookworm), for architectures Debian 12
# has no multiarch package for (big-endian mips, riscv64).
# Usage: boards/mbedtls-source.sh OUT_DIR [3.6|2.28]   (make MBEDTLS=... and
#        the mips and riscv64 boards call it; default 3.6)
# Env: CC, AR, CFLAGS for the library (cross boards pass their toolchain's;
#      defaults cc, ar and mbedTLS's own -O2), JOBS (2), NO_DEPS=1.
# Result: OUT_DIR/include/{mbedtls,psa} and OUT_DIR/lib/libmbed{tls,x509,crypto}.a.
# Does nothing when OUT_DIR already holds them. The source package is fetched
# once into build/mbedtls-source/ through a private apt setup: the system's
# apt sources and lists are never touched.
set -u

out=${1:?usage: boards/mbedtls-source.sh OUT_DIR [3.6|2.28]}
version=${2:-3.6}
case "$version" in
3.6) suite=trixie config_h=mbedtls_config.h ;;
2.28) suite=bookworm config_h=config.h ;;
*) echo "gust: mbedTLS $version: only 3.6 (Debian 13) or 2.28 (Debian 12) can be built" >&2; exit 1 ;;
esac
case "$out" in /*) ;; *) out=$(pwd)/$out ;; esac
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
. boards/private-apt.sh

fail() {
    echo "gust: mbedTLS $version: $*" >&2
    exit 1
}

have_libs() {
    for f in include/mbedtls/version.h include/psa/crypto.h lib/libmbedtls.a lib/libmbedx509.a lib/libmbedcrypto.a; do
        [ -f "$1/$f" ] || return 1
    done
}
have_libs "$out" && exit 0

# The newest source package of that version fetched so far, or nothing.
latest_dsc() {
    found=
    for f in "$src_cache"/mbedtls_"$version".*.dsc; do
        [ -f "$f" ] && found=$f
    done
    echo "$found"
}

# dpkg-source unpacks and applies Debian's patches; it needs xz and bzip2 for the tarballs.
[ "${NO_DEPS:-}" = 1 ] || sh boards/deps.sh dpkg-dev xz-utils bzip2 make || exit 1

src_cache=$root/build/mbedtls-source
mkdir -p "$src_cache" || fail "cannot create $src_cache"

# One fetch and one build per OUT_DIR at a time (parallel makes, other boards).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$src_cache/.lock"
    flock 9
    have_libs "$out" && exit 0
fi

dsc=$(latest_dsc)
if [ -z "$dsc" ]; then
    apt=$src_cache/apt
    private_apt_init "$apt" deb-src "$suite" ||
        fail "cannot fetch Debian's source; or set MBEDTLS_DIR to a prefix holding mbedTLS $version"
    (cd "$src_cache" && private_apt "$apt" source --download-only mbedtls) >"$apt/source.log" 2>&1 ||
        fail "cannot fetch Debian $suite's mbedtls source (see $apt/source.log)"
    rm -rf "$apt"
    dsc=$(latest_dsc)
    [ -n "$dsc" ] || fail "Debian $suite's mbedtls is not $version any more (see $src_cache)"
fi

# Built next to OUT_DIR, moved into place only when complete.
work=$out.work
rm -rf "$work"
mkdir -p "$work" || fail "cannot create $work"
dpkg-source --no-copy -x "$dsc" "$work/src" >"$work/unpack.log" 2>&1 || fail "cannot unpack $dsc (see $work/unpack.log)"

config=$work/src/include/mbedtls/$config_h
case "$version" in
3.6) need="MBEDTLS_SSL_PROTO_TLS1_2 MBEDTLS_SSL_PROTO_TLS1_3 MBEDTLS_PSA_CRYPTO_C" ;;
*) need="MBEDTLS_SSL_PROTO_TLS1_2 MBEDTLS_ECDSA_C MBEDTLS_X509_CRT_WRITE_C" ;;
esac
for opt in $need; do
    grep -q "^#define $opt\$" "$config" || fail "$opt is not enabled in $config"
done

# Not a sub-make of gust's: its command-line variables (BUILD, V, ...) are not mbedTLS's.
unset MAKEFLAGS MFLAGS MAKELEVEL
# An empty CFLAGS would replace mbedTLS's -O2 with nothing.
[ -n "${CFLAGS:-}" ] || unset CFLAGS
echo "gust: building mbedTLS $(basename "$dsc" .dsc | sed 's/^mbedtls_//') with ${CC:-cc} into $out" >&2
# Only the library: no programs or tests, no Python (its generated files ship in the tarball).
make -C "$work/src" -j"${JOBS:-2}" lib CC="${CC:-cc}" AR="${AR:-ar}" >"$work/build.log" 2>&1 ||
    fail "library build failed (see $work/build.log)"

mkdir -p "$work/include" "$work/lib"
if ! cp -R "$work/src/include/mbedtls" "$work/src/include/psa" "$work/include/" ||
    ! cp "$work/src/library/libmbedtls.a" "$work/src/library/libmbedx509.a" "$work/src/library/libmbedcrypto.a" \
        "$work/lib/"; then
    fail "cannot copy the library into $work"
fi
rm -rf "$work/src" "$out"
mv "$work" "$out" || fail "cannot move $work to $out"
have_libs "$out" || fail "incomplete result in $out"
