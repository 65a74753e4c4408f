#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the collector in the
# foreground on http://127.0.0.1:8080 with its SQLite database under ./data.
# The admin token is generated once into ./data/admin-token and printed.
#   deploy/quickstart.sh [extra collector flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
sh web/fetch-vendor.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRF_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

mkdir -p data
chmod 700 data
if [ ! -s data/admin-token ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 40 > data/admin-token)
fi
export RASFLEET_ADMIN_TOKEN
RASFLEET_ADMIN_TOKEN="$(cat data/admin-token)"
listen="${RASFLEET_LISTEN:-127.0.0.1:8080}"

cat <<MSG
rasfleet collector
  dashboard and API: http://${listen}/
  admin token:       ${RASFLEET_ADMIN_TOKEN}   (kept in data/admin-token)
  database:          data/rasfleet.db
  agent token:       build/server/rasfleet-collector token add --role agent --db data/rasfleet.db
Stop with Ctrl-C (the queue is drained and committed first).
MSG
exec build/server/rasfleet-collector --listen "$listen" --db data/rasfleet.db --web-dir web "$@"
