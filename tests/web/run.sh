#!/bin/sh
# tests/web/run.sh - browser tests of the dashboard (web/) against a real
# collector. Builds nothing: the collector comes from $RF_BUILD_DIR.
#
#   RF_BUILD_DIR=build tests/web/run.sh
#
# 1. installs tests/web's npm dependencies when missing (npm ci; only
#    playwright-core, which never downloads a browser),
# 2. copies Chart.js into web/vendor/ when missing (web/fetch-vendor.sh),
# 3. starts rasfleet-collector on 127.0.0.1 (ephemeral port) with a fresh
#    database, an admin token and a reader token,
# 4. loads a scenario fleet through POST /api/v1/ingest:
#    tests/scenario/fleetgen.py --scenario demo when it is there (else the
#    private loader tests/web/load-fleet.mjs), plus one hostile device whose
#    hostname and other strings are markup (load-fleet.mjs --hostile-only),
# 5. runs the tests with node's test runner (one chromium, Debian's
#    /usr/bin/chromium through playwright-core), writing a screenshot of
#    each view to $RF_TEST_OUTPUT (default test-output/web),
# 6. stops the collector (SIGTERM) and exits non-zero when a test failed.
#
# Environment: RF_BUILD_DIR (default build), RF_TEST_OUTPUT, RF_CHROMIUM
# (default /usr/bin/chromium), RF_WEB_DEVICES (fleet size, default 300),
# RF_WEB_ALLOW_SKIP=1 (exit 77 = skipped instead of failing when chromium
# or node is missing).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${RF_BUILD_DIR:-$repo/build}
out=${RF_TEST_OUTPUT:-$repo/test-output/web}
chromium=${RF_CHROMIUM:-/usr/bin/chromium}
devices=${RF_WEB_DEVICES:-300}

missing() {
    echo "web tests: $1" >&2
    if [ "${RF_WEB_ALLOW_SKIP:-0}" = 1 ]; then
        echo "web tests: skipped (RF_WEB_ALLOW_SKIP=1)" >&2
        exit 77
    fi
    exit 1
}

collector=""
for c in "$build/server/rasfleet-collector" "$build/rasfleet-collector" "$build/bin/rasfleet-collector"; do
    if [ -x "$c" ]; then collector=$c; break; fi
done
[ -n "$collector" ] || missing "no rasfleet-collector under $build (build it first, or set RF_BUILD_DIR)"
command -v node >/dev/null 2>&1 || missing "node is not installed (apt-get install -y nodejs npm)"
[ -x "$chromium" ] || missing "$chromium is missing (apt-get install -y chromium)"

if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
    command -v npm >/dev/null 2>&1 || missing "npm is not installed (apt-get install -y npm)"
    echo "web tests: installing npm dependencies (npm ci in tests/web)"
    (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -f "$repo/web/vendor/chart.umd.min.js" ]; then
    sh "$repo/web/fetch-vendor.sh" || missing "the chart library is missing (apt-get install -y libjs-chart.js)"
fi

mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rasfleet-web.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    [ -f "$tmp/collector.log" ] && cp "$tmp/collector.log" "$out/collector.log" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

admin="web-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
reader=$("$collector" --db "$tmp/rf.db" token add --role reader --name web-tests 2>/dev/null)
[ -n "$reader" ] || { echo "web tests: could not create a reader token" >&2; exit 1; }
# The server's IPsec baseline (vpn2's standard set), so the policy view has
# something to compare with.
echo "ipsec_baseline = AES128/SHA256128/AES128/SHA256/Group14/PFS2048" > "$tmp/rasfleet.conf"

RASFLEET_ADMIN_TOKEN=$admin "$collector" --config "$tmp/rasfleet.conf" --listen 127.0.0.1:0 \
    --db "$tmp/rf.db" --port-file "$tmp/port" --web-dir "$repo/web" >"$tmp/collector.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/collector.log" >&2; echo "web tests: the collector exited" >&2; exit 1; }
    i=$((i + 1))
    [ $i -lt 150 ] || { echo "web tests: the collector did not start in 15 s" >&2; exit 1; }
    sleep 0.1
done
url="http://127.0.0.1:$(cat "$tmp/port")"
echo "web tests: collector $collector at $url"

if [ -f "$repo/tests/scenario/fleetgen.py" ] && command -v python3 >/dev/null 2>&1; then
    timeout 300 python3 "$repo/tests/scenario/fleetgen.py" --url "$url" --token "$admin" --scenario demo \
        --devices "$devices" --seed 7 --manifest "$tmp/fleet.json" --quiet
    echo "web tests: loaded the fleetgen demo fleet ($devices devices)"
else
    timeout 300 node "$here/load-fleet.mjs" --url "$url" --token "$admin" --devices 60 --seed 7 --no-baseline \
        --manifest "$tmp/fleet.json"
fi
# The hostile device also brings a year of history, so the long windows
# (90d..365d, read from the collector's daily rollups) differ from 30d.
timeout 60 node "$here/load-fleet.mjs" --url "$url" --token "$admin" --hostile-only --no-baseline \
    --seed 11 --history-days 365 --manifest "$tmp/hostile.json"

status=0
RF_URL=$url RF_TOKEN=$admin RF_READER_TOKEN=$reader RF_HOSTILE="$tmp/hostile.json" RF_TEST_OUTPUT=$out \
RF_CHROMIUM=$chromium timeout 600 node --test --test-concurrency=1 --test-timeout=120000 --test-reporter=spec \
    "$here/static.test.mjs" "$here/dashboard.test.mjs" || status=$?
echo "web tests: screenshots in $out"
exit $status
