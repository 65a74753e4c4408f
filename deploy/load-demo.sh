#!/usr/bin/env bash
# Loads a demo fleet (500 devices, 48 h of history with a few real causes:
# an expired SSTP certificate, a legacy IPsec policy, inverted interface
# metrics ...) into the collector started by deploy/quickstart.sh, through
# its real ingest API, so the dashboard has something to show.
#   deploy/load-demo.sh [--devices N] [--seed S]
set -euo pipefail
cd "$(dirname "$0")/.."
url="http://${RASFLEET_LISTEN:-127.0.0.1:8080}"
[ -s data/admin-token ] || { echo "start the collector first: deploy/quickstart.sh" >&2; exit 1; }
exec python3 tests/scenario/fleetgen.py --url "$url" --token "$(cat data/admin-token)" \
  --scenario demo --gzip "$@"
