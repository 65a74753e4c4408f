#!/usr/bin/env bash
# run-fuzzers.sh - build the libFuzzer targets of tests/fuzz with clang
# (ASan + UBSan), fuzz each for a bounded time from a temporary copy of its
# seed corpus, then replay every saved crash input in
# tests/fuzz/regressions/<target>/. This is the fuzzing step of
# deploy/test-all.sh (docs/fuzzing.md).
# Exits non-zero when the build fails or any target crashes, leaks, times
# out, runs out of memory or fails a regression. New corpus entries go to a
# temporary directory; a crashing input is copied from
# <build>/fuzz-artifacts/<target>/ to tests/fuzz/regressions/<target>/ (the
# only change made to the repository), so it is replayed from then on.
#
# usage: tests/fuzz/run-fuzzers.sh [options] [BUILD_DIR]
#   BUILD_DIR            build directory (default: <repo>/build-fuzz)
#   -t, --time SECONDS   fuzzing time per target (default 18; 0 = regressions only)
#   -j, --jobs N         targets fuzzed in parallel (default 2)
#   -o, --only a,b,...   only these targets (names without fuzz_)
#   --top-level          configure the whole project with -DRF_FUZZ=ON (needs
#                        the add_subdirectory line in the top-level
#                        CMakeLists.txt) instead of tests/fuzz on its own
#   --no-build           use the binaries already in BUILD_DIR
#   --no-save            leave crash inputs in <build>/fuzz-artifacts only
#   --keep-corpus DIR    keep each target's working corpus in DIR/<target>
#   -h, --help
# Environment: CC (default clang), RF_FUZZ_SKIP (known-bug tags the harnesses
# skip while fuzzing; never applied to regressions), RF_FUZZ_ARGS (extra
# libFuzzer flags, e.g. "-max_len=65536").
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build-fuzz
secs=18
jobs=2
only=""
toplevel=0
do_build=1
save=1
keep=""

while [ $# -gt 0 ]; do
  case "$1" in
    -t|--time) secs=$2; shift 2 ;;
    -j|--jobs) jobs=$2; shift 2 ;;
    -o|--only) only=$2; shift 2 ;;
    --top-level) toplevel=1; shift ;;
    --no-build) do_build=0; shift ;;
    --no-save) save=0; shift ;;
    --keep-corpus) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    -*) echo "run-fuzzers.sh: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
case "$secs" in ''|*[!0-9]*) echo "run-fuzzers.sh: -t needs whole seconds, not '$secs'" >&2; exit 2 ;; esac
case "$jobs" in ''|0|*[!0-9]*) echo "run-fuzzers.sh: -j needs a positive number, not '$jobs'" >&2; exit 2 ;; esac

cc=${CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "run-fuzzers.sh: $cc not found (apt-get install -y clang libclang-rt-14-dev)" >&2
  exit 2
fi

log() { printf '%s\n' "$*" >&2; }

# ---- build ----
t0=$(date +%s)
if [ $do_build = 1 ]; then
  if [ $toplevel = 1 ]; then
    src=$root
    # the fuzz targets use no HTTP client: the distribution's libcurl header
    # spares this build the agent's minimal libcurl (deploy/build-curl-min.sh)
    extra=(-DRF_BUILD_TESTS=OFF -DRF_AGENT_CURL=system)
  else
    src=$here
    extra=()
  fi
  log "== configuring $build ($cc, RF_FUZZ=ON, source $src)"
  mkdir -p "$build"
  cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DRF_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}" >"$build/fuzz-configure.log" 2>&1 || {
    cat "$build/fuzz-configure.log" >&2; exit 2; }
  log "== building (log: $build/fuzz-build.log)"
  cmake --build "$build" --target fuzz -j "$(nproc 2>/dev/null || echo 2)" \
    >"$build/fuzz-build.log" 2>&1 || {
    tail -40 "$build/fuzz-build.log" >&2
    if [ $toplevel = 1 ] && grep -q "fuzz" "$build/fuzz-build.log" &&
       ! grep -q "add_subdirectory(tests/fuzz)" "$root/CMakeLists.txt"; then
      log "hint: the top-level CMakeLists.txt has no 'add_subdirectory(tests/fuzz)'; run without --top-level"
    fi
    exit 2; }
fi
list=$(find "$build" -name fuzz-targets.txt -print -quit)
bindir=$(find "$build" -name fuzz-bin-dir.txt -print -quit)
[ -n "$list" ] && [ -n "$bindir" ] || { log "no fuzz targets in $build (RF_FUZZ=ON with clang?)"; exit 2; }
bindir=$(cat "$bindir")
targets=$(cat "$list")
if [ -n "$only" ]; then
  for t in ${only//,/ }; do
    grep -qFx "$t" <<<"$targets" || {
      log "run-fuzzers.sh: no target '$t' (targets: $(tr '\n' ' ' <<<"$targets"))"; exit 2; }
  done
  targets=$(printf '%s\n' $targets | grep -Fx -f <(printf '%s\n' ${only//,/ }))
else
  # every regressions/<dir> must belong to a target, or its inputs are never replayed
  for d in "$here"/regressions/*/; do
    [ -d "$d" ] || continue
    d=$(basename "$d")
    grep -qFx "$d" <<<"$targets" || {
      log "run-fuzzers.sh: tests/fuzz/regressions/$d/ has no fuzz target fuzz_$d"; exit 2; }
  done
fi
t_build=$(( $(date +%s) - t0 ))

dict_of() {
  case "$1" in
    batch_json|ndjson|ingest_decode|event_json|netip_json|vpnconn_json|baseline|checks) echo json ;;
    event_xml) echo xml ;;
    pbk|ipsec_blob) echo pbk ;;
    static_path) echo static ;;
    config_set) echo config ;;
    time) echo time ;;
    catalog_code) echo code ;;
    *) echo "" ;;
  esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/rf-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
# stopped from outside (CI timeout, Ctrl-C): stop the fuzzers this script
# started (each fuzz_one passes the TERM on to its fuzzer)
trap 'kill $(jobs -p) 2>/dev/null; wait; exit 130' INT TERM
mkdir -p "$build/fuzz-artifacts"

# ---- fuzz one target (runs in the background) ----
fuzz_one() {
  local t=$1 bin=$bindir/fuzz_$1 corpus=$work/corpus-$1 res=$work/result-$1
  local art=$build/fuzz-artifacts/$1/ d dictarg=()
  mkdir -p "$corpus" "$art"
  [ -d "$here/corpus/$t" ] && cp -R "$here/corpus/$t/." "$corpus/"
  d=$(dict_of "$t")
  [ -n "$d" ] && [ -f "$here/dict/$d.dict" ] && dictarg=(-dict="$here/dict/$d.dict")
  local start=$(date +%s)
  # shellcheck disable=SC2086
  "$bin" "$corpus" "${dictarg[@]}" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$art" ${RF_FUZZ_ARGS:-} \
    >"$work/log-$t" 2>&1 &
  local pid=$!
  trap 'kill "$pid" 2>/dev/null; exit 143' TERM
  wait "$pid"
  local rc=$?
  local dur=$(( $(date +%s) - start ))
  local execs cov ft corp crash
  execs=$(grep -E '^stat::number_of_executed_units' "$work/log-$t" | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+' "$work/log-$t" | tail -1 | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' "$work/log-$t" | tail -1 | awk '{print $2}')
  corp=$(grep -oE 'corp: [0-9]+' "$work/log-$t" | tail -1 | awk '{print $2}')
  # the input libFuzzer wrote for the failure (crash-, leak-, timeout-, oom-...)
  crash=$(sed -n 's/^.*Test unit written to //p' "$work/log-$t" | grep -v '/slow-unit-' | tail -1)
  if [ -n "$keep" ]; then mkdir -p "$keep/$t"; cp -R "$corpus/." "$keep/$t/"; fi
  echo "$rc ${execs:-0} ${cov:-0} ${ft:-0} ${corp:-0} $dur ${crash:--}" >"$res"
}

if [ "$secs" -gt 0 ]; then
  log "== fuzzing $(echo $targets | wc -w) targets, ${secs}s each, $jobs at a time"
  running=0
  for t in $targets; do
    fuzz_one "$t" &
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  done
  wait
fi

# ---- regressions ----
fail=0
printf '\n%-15s %-6s %10s %8s %6s %6s %6s %5s  %s\n' target fuzz execs exec/s cov ft corpus regr note
for t in $targets; do
  bin=$bindir/fuzz_$t
  status=skip; execs=0; cov=0; ft=0; corp=0; dur=0; note=""
  if [ -f "$work/result-$t" ]; then
    read -r rc execs cov ft corp dur crash <"$work/result-$t"
    if [ "$rc" = 0 ]; then status=ok; else
      status=FAIL; fail=1
      log ""; log "---- fuzz_$t log (tail) ----"; tail -60 "$work/log-$t" >&2
      if [ "$crash" = - ] || [ ! -f "$crash" ]; then
        note="exit $rc without a crash input (log above)"
      elif [ $save = 1 ]; then
        mkdir -p "$here/regressions/$t"
        cp "$crash" "$here/regressions/$t/"
        rel=tests/fuzz/regressions/$t/$(basename "$crash")
        note="input saved as $rel"
        log ""
        log "fuzz_$t FAILED; the input is saved as $rel and replayed by every run from now on."
        log "  reproduce: $bindir/fuzz_$t $rel"
        log "  minimise:  $bindir/fuzz_$t -minimize_crash=1 -runs=100000 $rel"
        log "  then name it after what it shows and commit it with the fix (docs/fuzzing.md)."
      else
        note="input: $crash"
      fi
    fi
  elif [ "$secs" -gt 0 ]; then
    status=FAIL; fail=1; note="the fuzz run left no result"
  fi
  regr="-"
  rdir=$here/regressions/$t
  if [ -d "$rdir" ] && [ -n "$(ls -A "$rdir" 2>/dev/null)" ]; then
    n=0; bad=0
    for f in "$rdir"/*; do
      [ -f "$f" ] || continue
      n=$((n + 1))
      if ! env -u RF_FUZZ_SKIP "$bin" -runs=1 -timeout=5 -rss_limit_mb=2048 "$f" \
          >"$work/regr-$t.log" 2>&1; then
        bad=$((bad + 1)); fail=1
        note="$note regression $(basename "$f") FAILS"
        log ""; log "---- regression $rdir/$(basename "$f") ----"
        grep -E 'ERROR|INVARIANT|SUMMARY|runtime error|^  ' "$work/regr-$t.log" | head -12 >&2
      fi
    done
    regr="$((n - bad))/$n"
  fi
  rate=0
  [ "${dur:-0}" -gt 0 ] && rate=$((execs / dur))
  printf '%-15s %-6s %10s %8s %6s %6s %6s %5s  %s\n' "$t" "$status" "$execs" "$rate" "$cov" \
    "$ft" "$corp" "$regr" "$note"
done
t_all=$(( $(date +%s) - t0 ))
printf '\nbuild %ss, total %ss; %s\n' "$t_build" "$t_all" \
  "$([ $fail = 0 ] && echo 'all targets passed' || echo 'FAILURES (see above)')"
exit $fail
