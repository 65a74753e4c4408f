#!/usr/bin/env bash
# Agent benchmark: peak RSS and CPU time of one `rasfleet-agent --once` over
# an export directory of 10,000 RasClient events (wevtutil XML) and 50 pbk
# entries (five rasphone.pbk files of ten sections), delivering to a real
# collector on loopback. Targets: < 8 MB peak RSS, < 200 ms CPU (user+sys).
# Then a second run over the same directory (nothing new to send).
#
#   bench/agent-bench.sh [--tls] [BUILD_DIR]   (default build-agent-bench, RelWithDebInfo: -O2)
#
# --tls: over HTTPS (a throwaway CA and a certificate for 127.0.0.1 made with
# the openssl command; the agent is given the CA with --ca-file).
#
# Prints the figures; they are recorded in docs/benchmarks.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
tls=0
if [ "${1:-}" = "--tls" ]; then
  tls=1
  shift
fi
build="${1:-build-agent-bench}"
events="${RF_BENCH_EVENTS:-10000}"
pbk_files=5
pbk_sections=10

if [ ! -x "$build/agent/rasfleet-agent" ] || [ ! -x "$build/server/rasfleet-collector" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRF_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target rasfleet-agent rasfleet-collector >/dev/null
fi

work="$(mktemp -d)"
coll_pid=""
cleanup() {
  [ -n "$coll_pid" ] && kill "$coll_pid" 2>/dev/null && wait "$coll_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/src"

python3 - "$work/src" "$events" "$pbk_files" "$pbk_sections" \
  tests/fixtures/pbk/allusers-two-entries.pbk <<'PY'
import sys
src, n, files, sections, sample = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
tmpl = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='RasClient'/><EventID Qualifiers='0'>%d</EventID><Version>0</Version>"
        "<Level>%d</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords>"
        "<TimeCreated SystemTime='2026-11-20T%02d:%02d:%02d.1234567Z'/><EventRecordID>%d"
        "</EventRecordID><Correlation/><Execution ProcessID='4812' ThreadID='0'/>"
        "<Channel>Application</Channel><Computer>LT-0421.corp.example.net</Computer>"
        "<Security UserID='S-1-5-21-1004336348-1177238915-682003330-1107'/></System><EventData>"
        "<Data>{3F2A0C1B-7A44-0000-8E61-%012X}</Data><Data>CORP\\alice</Data>"
        "<Data>Always On VPN</Data><Data>%s</Data></EventData></Event>\r\n")
with open(src + "/rasclient.xml", "w") as f:
    for i in range(1, n + 1):
        ev = 20227 if i % 3 else 20226
        f.write(tmpl % (ev, 2 if ev == 20227 else 4, i // 3600 % 24, i // 60 % 60, i % 60,
                        1000000 + i, i, "809" if ev == 20227 else "833"))
text = open(sample, "rb").read().decode()
body = text[text.index("\n") + 1:text.index("[Contoso Legacy VPN]")]
for k in range(files):
    with open("%s/rasphone-%d.pbk" % (src, k), "w", newline="") as f:
        for s in range(sections):
            f.write("[Bench VPN %d-%d]\r\n" % (k, s) + body)
PY

scheme=http coll_tls=() agent_tls=()
if [ "$tls" = 1 ]; then
  ossl() { openssl "$@" >/dev/null 2>&1; }
  ossl req -x509 -newkey rsa:2048 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" -days 2 \
    -subj "/CN=rasfleet bench CA"
  ossl req -newkey rsa:2048 -nodes -keyout "$work/server.key" -out "$work/server.csr" \
    -subj "/CN=127.0.0.1"
  echo "subjectAltName=IP:127.0.0.1" > "$work/server.ext"
  ossl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -out "$work/server.pem" -days 2 -extfile "$work/server.ext"
  scheme=https
  coll_tls=(--tls-cert "$work/server.pem" --tls-key "$work/server.key")
  agent_tls=(--ca-file "$work/ca.pem")
fi

export RASFLEET_ADMIN_TOKEN="bench-admin-token-$(date +%s)-0123456789"
"$build/server/rasfleet-collector" --listen 127.0.0.1:0 --db "$work/db.sqlite" \
  --port-file "$work/port" "${coll_tls[@]}" 2>"$work/collector.log" &
coll_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="$scheme://127.0.0.1:$(cat "$work/port")"

measure() { # label state-dir
  local log="$work/agent.log" TIMEFORMAT="%3U %3S %3R" times rc=0
  # bash's time keyword reports the child's own CPU; peak RSS is the agent's
  # own VmHWM, printed on its last log line (ru_maxrss of a forked child would
  # also count its parent's pages from before exec)
  times=$( { time "$build/agent/rasfleet-agent" --once --collector "$url" \
      --token "$RASFLEET_ADMIN_TOKEN" --source-dir "$work/src" --state-dir "$2" \
      --device-id bench-device --log-level info "${agent_tls[@]}" 2>"$log" ; } 2>&1 ) || rc=$?
  local rss_kib
  rss_kib=$(sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' "$log" | tail -1)
  read -r user sys real <<<"$times"
  awk -v l="$1" -v rc="$rc" -v kib="$rss_kib" -v u="$user" -v s="$sys" -v r="$real" 'BEGIN {
    printf "%-26s exit %d  peak RSS %6.2f MB  CPU %6.1f ms (user %.1f, sys %.1f)  wall %7.1f ms\n",
      l, rc, kib / 1024, (u + s) * 1000, u * 1000, s * 1000, r * 1000 }'
}

echo "agent bench ($scheme): $events events, $((pbk_files * pbk_sections)) pbk entries; $(nproc) cores, $(uname -sr)"
measure "first run (all new)" "$work/state"
measure "second run (nothing new)" "$work/state"
rows=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from events').fetchone()[0], c.execute('select count(*) from pbk_entries').fetchone()[0], c.execute('select count(*) from vpn_policies').fetchone()[0])" "$work/db.sqlite")
echo "collector holds (events, pbk_entries, vpn_policies): $rows"
