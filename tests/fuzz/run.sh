#!/bin/sh
# Runs each libFuzzer harness in build/fuzz for SECONDS seconds on a copy of
# its seed corpus (tests/fuzz/corpus/<harness> is never written), prints one
# summary line per harness and exits non-zero if any harness failed.
# Usage: tests/fuzz/run.sh [SECONDS] [harness...]   (make fuzz calls it)
# Env: FUZZ_JOBS, harnesses run at once (default: the number of CPUs), each
# for the full SECONDS.
set -u
SECONDS_EACH=${1:-30}
[ $# -gt 0 ] && shift
HARNESSES=${*:-"http_request chunked json dns url http_response websocket"}
OUT=build/fuzz
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

# Runs one harness; its summary goes to $OUT/<harness>.summary, its status
# to $OUT/<harness>.status.
run_one() {
    h=$1
    bin=$OUT/$h
    corpus=$OUT/corpus/$h
    artifacts=$OUT/artifacts/$h
    log=$OUT/$h.log
    if [ ! -x "$bin" ]; then
        printf 'fuzz %-13s MISSING (%s not built)\n' "$h" "$bin"
        return 1
    fi
    mkdir -p "$corpus" "$artifacts"
    # The working corpus keeps what earlier runs found; seeds are copied in fresh.
    cp tests/fuzz/corpus/"$h"/* "$corpus"/ 2>/dev/null
    "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
        -artifact_prefix="$artifacts"/ "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    cov=$(sed -n 's/.*cov: \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$runs" ]; then
        printf 'fuzz %-13s ok      %10s execs in %ss, coverage %s, corpus %s files\n' \
            "$h" "$runs" "$SECONDS_EACH" "${cov:-?}" "$(ls "$corpus" | wc -l)"
        return 0
    else
        crash=$(ls -t "$artifacts" 2>/dev/null | head -n 1)
        printf 'fuzz %-13s FAILED  (exit %s) input %s, log %s\n' \
            "$h" "$rc" "${crash:+$artifacts/$crash}" "$log"
        grep -m 1 -E 'ERROR: |invariant failed|runtime error' "$log" | sed 's/^/    /'
        return 1
    fi
}

# JOBS at a time; every harness runs the same time, so batches stay even.
mkdir -p "$OUT"
set -- $HARNESSES
while [ $# -gt 0 ]; do
    batch=
    k=0
    while [ $# -gt 0 ] && [ $k -lt "$JOBS" ]; do
        batch="$batch $1"
        (run_one "$1" >"$OUT/$1.summary" 2>&1; echo $? >"$OUT/$1.status") &
        shift
        k=$((k + 1))
    done
    wait
    for h in $batch; do
        cat "$OUT/$h.summary"
    done
done

passed=0
failed=0
for h in $HARNESSES; do
    if [ "$(cat "$OUT/$h.status" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
