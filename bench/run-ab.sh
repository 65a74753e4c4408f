#!/usr/bin/env bash
# run-ab.sh - two collector builds side by side under the same load, runs
# alternating, so a shared machine's noise falls on both alike.
#
#   bench/run-ab.sh BUILD_A BUILD_B [ROUNDS]
#
# BUILD_A/BUILD_B: CMake build folders (each with server/rasfleet-collector;
# the load generator is BUILD_B's). Each round runs, for A then B, a fresh
# collector (ephemeral 127.0.0.1 port, fresh database in a temp dir) under
# rasfleet-loadgen with the (c2) load of docs/benchmarks.md: --rate 400
# --records 500 --concurrency 64 for RF_AB_SECONDS (15) seconds, the same
# pre-built bodies for both (--pool-cache). Prints one line per run (ack
# latency, writer thread CPU, commits, database size) and the medians.
# Knobs: RF_AB_SECONDS, RF_AB_RATE (400), RF_AB_RECORDS (500), RF_AB_CONNS (64),
# RF_AB_MAX=1 (closed loop, 16 connections, as fast as possible, instead).
# Exit 1 on a non-200 answer or a collector that does not exit 0 on SIGTERM.
set -euo pipefail
A=$(cd "${1:?usage: run-ab.sh BUILD_A BUILD_B [ROUNDS]}" && pwd)
B=$(cd "${2:?usage: run-ab.sh BUILD_A BUILD_B [ROUNDS]}" && pwd)
ROUNDS=${3:-3}
SECONDS_RUN=${RF_AB_SECONDS:-15}
LOADGEN=$B/bench/rasfleet-loadgen
for f in "$A/server/rasfleet-collector" "$B/server/rasfleet-collector" "$LOADGEN"; do
    [ -x "$f" ] || { echo "missing $f" >&2; exit 2; }
done
if [ "${RF_AB_MAX:-0}" = 1 ]; then
    LOAD=(--records "${RF_AB_RECORDS:-500}" --concurrency 16)
else
    LOAD=(--rate "${RF_AB_RATE:-400}" --records "${RF_AB_RECORDS:-500}"
          --concurrency "${RF_AB_CONNS:-64}")
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rasfleet-ab-XXXXXX")
CPID=
cleanup() {
    [ -n "$CPID" ] && kill -TERM "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
export RASFLEET_ADMIN_TOKEN="ab-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
HZ=$(getconf CLK_TCK)
RUN_ID=$(( ($(date +%s) % 100000) * 10 + 1 ))
FAILED=0

writer_ticks() { # CPU ticks of the writer thread (named rf-writer; "-": a
    local t      # build from before the threads had names)
    for t in /proc/"$CPID"/task/*; do
        if [ "$(cat "$t/comm" 2>/dev/null)" = rf-writer ]; then
            awk '{print $14 + $15}' "$t/stat"
            return
        fi
    done
    echo -
}

one_run() { # one_run LABEL BUILD -> one line
    local label=$1 build=$2 dir=$WORK/$1 out w0 w1 rc=0
    mkdir -p "$dir"
    "$build/server/rasfleet-collector" --listen 127.0.0.1:0 --db "$dir/r.db" \
        --port-file "$dir/port" --log-level warn 2>"$dir/log" &
    CPID=$!
    for _ in $(seq 300); do [ -s "$dir/port" ] && break; sleep 0.02; done
    local url=http://127.0.0.1:$(cat "$dir/port")
    w0=$(writer_ticks)
    out=$("$LOADGEN" --url "$url" --run "$RUN_ID" --seconds "$SECONDS_RUN" "${LOAD[@]}" \
        --pool-cache "$WORK/pool.bin" | grep '^RESULT') || FAILED=1
    w1=$(writer_ticks)
    local metrics commits size
    metrics=$(curl -s --max-time 5 "$url/metrics" || true)
    commits=$(printf '%s\n' "$metrics" | awk '$1 == "rasfleet_commit_duration_seconds_count" {print $2}')
    size=$(stat -c %s "$dir/r.db" 2>/dev/null || echo 0)
    kill -TERM "$CPID"
    wait "$CPID" || rc=$?
    CPID=
    [ "$rc" = 0 ] || { echo "collector $label exited with $rc" >&2; tail -3 "$dir/log" >&2; FAILED=1; }
    local kv
    kv() { printf '%s\n' "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    [ "$(kv errors)" = 0 ] || FAILED=1
    printf '%-2s records/s %7s  p50 %7s  p90 %7s  p99 %7s  max %7s ms  writer CPU %3s%%  commits %5s  db %5s MiB  machine %s%%\n' \
        "$label" "$(kv records_per_s)" "$(kv p50_ms)" "$(kv p90_ms)" "$(kv p99_ms)" "$(kv max_ms)" \
        "$(awk -v a="$w0" -v b="$w1" -v hz="$HZ" -v s="$(kv seconds)" \
            'BEGIN {if (a == "-") print "-"; else printf "%d", (b - a) / hz / s * 100}')" \
        "$commits" "$((size / 1048576))" "$(kv machine_pct)"
    rm -rf "$dir"
}

echo "A = $A"
echo "B = $B"
echo "load: ${LOAD[*]} for ${SECONDS_RUN}s; $ROUNDS rounds, A then B"
: >"$WORK/lines"
for r in $(seq "$ROUNDS"); do
    for label in A B; do
        build=$A
        [ "$label" = B ] && build=$B
        one_run "$label" "$build" | tee -a "$WORK/lines"
    done
done
for label in A B; do
    grep "^$label " "$WORK/lines" | awk -v l="$label" '
        { r[NR] = $3; p50[NR] = $5; p99[NR] = $9 }
        function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
            if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        END { printf "median %s: records/s %s  p50 %s ms  p99 %s ms\n", l, med(r, NR), med(p50, NR), med(p99, NR) }'
done
exit "$FAILED"
