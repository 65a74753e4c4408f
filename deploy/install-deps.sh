#!/usr/bin/env bash
# Installs the Debian 12 packages rasfleet needs. Idempotent.
#   deploy/install-deps.sh          build and run the collector
#   deploy/install-deps.sh --test   also everything the test suite uses
#     (postgresql: the server binaries the PostgreSQL tests start a throwaway
#     cluster with; Debian's own main cluster is not used by the tests;
#     haproxy and nginx-light: tests/integration/test_pg_lb.py checks the
#     deploy/haproxy and deploy/nginx configs and runs haproxy on loopback)
set -euo pipefail

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

# libssl-dev, patch, xz-utils, ninja-build: the agent's minimal libcurl
# (deploy/build-curl-min.sh: Debian's curl source, static OpenSSL)
pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libsqlite3-dev zlib1g-dev
      libcjson-dev libexpat1-dev nettle-dev libcurl4-openssl-dev sqlite3 curl ca-certificates
      libjs-chart.js libpq-dev libssl-dev patch xz-utils ninja-build debian-archive-keyring)
if [ "$want_tests" = 1 ]; then
  pkgs+=(libcmocka-dev python3 prometheus systemd clang libclang-rt-14-dev e2fsprogs openssl
         chromium postgresql haproxy nginx-light)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The browser tests need Node.js (playwright-core drives Debian's chromium).
# Machines of this project come with Node.js 20 and npm; a bare Debian 12
# gets Debian's own.
if [ "$want_tests" = 1 ] && ! command -v node >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
