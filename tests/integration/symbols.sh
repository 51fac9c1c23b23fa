#!/bin/sh
# Every symbol libgust.a exports must belong to gust (mongoose's test/Makefile
# check): a firmware image links gust next to other C and C++ code, and a
# stray global (a helper without `static`, a function outside the namespace)
# is a collision waiting to happen. Env: BUILD (a host build), NM.
#
# Checked: defined, external, strong symbols (nm types T D B R G S I).
# Skipped: weak ones (W V u, plus undefined w v): inline functions, template
# instantiations (std:: ones included) and their statics, which the linker
# merges across objects by design. Sanitizer builds also export their own
# __asan_/__odr_asan/__ubsan bookkeeping, which is allowed there.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/host}
NM=${NM:-nm}
lib=$BUILD/libgust.a
[ -f "$lib" ] || { echo "symbols: no $lib (build it first)" >&2; exit 1; }

# Mangled names keep this exact: a gust entity is _ZN<quals>4gust... ; before
# that may come a special-name prefix (vtable TV, VTT TT, typeinfo TI/TS, TLS
# init/wrapper TH/TW, guard variable GV, reference temporary GR, thunks Th/Tv)
# and Z for a static local inside a gust function.
gust='^_Z(TV|TT|TI|TS|TH|TW|GV|GR[0-9]*_?|Thn?[0-9]+_|Tvn?[0-9]+_n?[0-9]+_|Tc.*_)?Z?N[rVKRO]*4gust'
sanitizer='^(__asan_|__odr_asan|___asan_|__ubsan_|__sancov_)'

# POSIX format: "name type value size"; archive member headers end in ':' or ']'.
defined=$("$NM" -g -P --defined-only "$lib") || { echo "symbols: $NM failed on $lib" >&2; exit 1; }
exported=$(printf '%s\n' "$defined" | awk 'NF >= 2 && $1 !~ /[]:]$/ && $2 ~ /^[TDBRGSI]$/ { print $1 }' | sort -u)
count=$(printf '%s\n' "$exported" | grep -c . || true)
[ "$count" -gt 0 ] || { echo "symbols: no exported symbols found in $lib" >&2; exit 1; }

offenders=$(printf '%s\n' "$exported" | grep -Ev "$gust" | grep -Ev "$sanitizer" || true)
if [ -n "$offenders" ]; then
    echo "symbols: exported from $lib but not in namespace gust:"
    printf '%s\n' "$offenders" | while read -r s; do
        printf '  %s  (%s)\n' "$s" "$(printf '%s\n' "$s" | c++filt)"
        # Which object defines it ("lib.a:member.o:" in nm -A output).
        "$NM" -A -g --defined-only "$lib" 2>/dev/null | awk -v s="$s" '$NF == s { n = split($1, p, ":"); print "     in " p[n - 1]; exit }'
    done
    exit 1
fi
echo "symbols: all $count exported symbols of $lib are in gust::"
