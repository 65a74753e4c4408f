#!/bin/sh
# bench/dashboard-bench.sh - dashboard page load time with a large fleet.
#
#   RF_BUILD_DIR=build bench/dashboard-bench.sh [DEVICES]
#
# Starts rasfleet-collector on 127.0.0.1 with a fresh database, stores
# DEVICES devices (default 100000) through the real ingest API with
# bench/dashboard-load.mjs (minimal gzip batches: two interface rows and
# one outcome event each), then measures, in headless chromium, the time
# from navigation start to the "data rendered" marker of the overview, the
# findings, the device list and a device page (bench/dashboard-bench.mjs:
# one cold run, then RF_BENCH_RUNS runs per view; p50/p95 printed).
# Exits 1 when a p95 is at or above RF_BENCH_TARGET_MS (default 1000).
#
# Needs what tests/web/run.sh needs: node, tests/web's npm dependencies
# (installed when missing), /usr/bin/chromium, web/vendor (fetch-vendor.sh).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${RF_BUILD_DIR:-$repo/build}
devices=${1:-${RF_BENCH_DEVICES:-100000}}
runs=${RF_BENCH_RUNS:-9}
target=${RF_BENCH_TARGET_MS:-1000}
out=${RF_TEST_OUTPUT:-$repo/test-output/bench}

collector=""
for c in "$build/server/rasfleet-collector" "$build/rasfleet-collector" "$build/bin/rasfleet-collector"; do
    if [ -x "$c" ]; then collector=$c; break; fi
done
[ -n "$collector" ] || { echo "dashboard-bench: no rasfleet-collector under $build" >&2; exit 1; }
if [ ! -f "$repo/tests/web/node_modules/playwright-core/package.json" ]; then
    (cd "$repo/tests/web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
[ -f "$repo/web/vendor/chart.umd.min.js" ] || sh "$repo/web/fetch-vendor.sh"

mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rasfleet-dbench.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

admin="bench-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
reader=$("$collector" --db "$tmp/rf.db" token add --role reader --name dashboard-bench 2>/dev/null)
RASFLEET_ADMIN_TOKEN=$admin "$collector" --listen 127.0.0.1:0 --db "$tmp/rf.db" --port-file "$tmp/port" \
    --web-dir "$repo/web" --log-level warn >"$tmp/collector.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/collector.log" >&2; exit 1; }
    i=$((i + 1)); [ $i -lt 150 ] || { echo "dashboard-bench: collector did not start" >&2; exit 1; }
    sleep 0.1
done
url="http://127.0.0.1:$(cat "$tmp/port")"

timeout 1800 node "$here/dashboard-load.mjs" --url "$url" --token "$admin" --devices "$devices"
sleep 2 # let the writer drain and the analyzer see the last batches
timeout 1200 node "$here/dashboard-bench.mjs" --url "$url" --token "$reader" --runs "$runs" --target "$target" \
    --json "$out/dashboard-bench.json"
