#!/bin/sh
# Runs every test of a build and ends with one plain line: "N passed, M failed"
# (before it, "K skipped" when a script did not apply to this build).
# Env: BUILD (build/<board>), RUNNER (e.g. qemu-arm-static -L ...), BOARD;
# SANITIZE and NM are passed on to the integration tests. TESTS=word,...
# (commas or spaces): only the integration scripts whose file names contain
# one of the words (the unit tests, a few seconds, always run).
# Unit tests: the doctest binary; each test case counts once.
# Integration tests: every tests/integration/*.sh and *.py counts once.
set -u
BUILD=${BUILD:-build/host}
RUNNER=${RUNNER:-}
passed=0
failed=0
log=$BUILD/tests/unit.log
mkdir -p "$BUILD/tests"

# GCC makes a coroutine's symmetric transfer a tail call only when it may
# optimise sibling calls, which ASan's stack instrumentation prevents: a
# sanitized loop over operations that complete at once then grows the stack
# (optimised builds do not). Give sanitized runs room rather than weaker checks.
if [ -n "${SANITIZE:-}" ]; then
    ulimit -s 1048576 2>/dev/null || ulimit -s unlimited 2>/dev/null || true
fi

echo "== unit tests ($BUILD/tests/unit_tests)"
t0=$(date +%s)
$RUNNER "$BUILD/tests/unit_tests" --no-intro=true >"$log" 2>&1
status=$?
echo "   ran in $(($(date +%s) - t0)) s"
summary=$(grep '^\[doctest\] test cases:' "$log" | tail -n 1)
cat "$log" | grep -v '^\[doctest\] test cases:' | tail -n 200
if [ -n "$summary" ]; then
    echo "$summary"
    p=$(echo "$summary" | sed -n 's/.*| *\([0-9][0-9]*\) passed.*/\1/p')
    f=$(echo "$summary" | sed -n 's/.*| *\([0-9][0-9]*\) failed.*/\1/p')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    [ "$status" -ne 0 ] && [ "${f:-0}" -eq 0 ] && failed=$((failed + 1))
else
    echo "unit tests crashed (exit $status) before their summary; see $log"
    failed=$((failed + 1))
fi

# Cross boards run them too: the scripts start the board's programs through
# $RUNNER (qemu-user). A script that cannot apply to this build exits 77 and
# counts as skipped, with its reason in the log.
skipped=0
for t in tests/integration/*.sh tests/integration/*.py; do
    [ -e "$t" ] || continue
    name=$(basename "$t")
    if [ -n "${TESTS:-}" ]; then
        wanted=
        for w in $(echo "$TESTS" | tr ',' ' '); do
            case "$name" in *"$w"*) wanted=1 ;; esac
        done
        [ -n "$wanted" ] || continue
    fi
    case "$t" in
    *.py) cmd="python3 $t" ;;
    *) cmd="sh $t" ;;
    esac
    echo "== integration: $name"
    t0=$(date +%s)
    BUILD="$BUILD" RUNNER="$RUNNER" BOARD="${BOARD:-host}" timeout 600 $cmd >"$BUILD/tests/$name.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "   ok ($(($(date +%s) - t0)) s)"
        passed=$((passed + 1))
    elif [ "$rc" -eq 77 ]; then
        echo "   skipped: $(tail -n 1 "$BUILD/tests/$name.log")"
        skipped=$((skipped + 1))
    else
        echo "   FAILED (exit $rc); last lines of $BUILD/tests/$name.log:"
        tail -n 30 "$BUILD/tests/$name.log" | sed 's/^/   | /'
        failed=$((failed + 1))
    fi
done

# The last line stays plain "N passed, M failed"; skips get their own line.
[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
