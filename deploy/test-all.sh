#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite twice: once in
# a normal build and once under AddressSanitizer + UndefinedBehaviorSanitizer
# (LeakSanitizer included), then the libFuzzer targets (clang, ASan + UBSan):
# every saved regression input, and RF_FUZZ_SECONDS (default 18) of fuzzing
# per target, about 4 minutes on 2 cores (docs/fuzzing.md). A crashing input
# is saved under tests/fuzz/regressions/<target>/. This is the command
# .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh --test
sh web/fetch-vendor.sh
jobs="$(nproc)"

run_suite() {
  local dir="$1"; shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 900)
}

# Release is what deploy/quickstart.sh builds: -O3 sees warnings -O0 does not.
echo "== build and test (Release)"
run_suite build-test -DCMAKE_BUILD_TYPE=Release
echo "== Windows agent: MinGW cross build (static .exe), smoke test under wine"
deploy/windows/cross-build.sh build-win
command -v wine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wine wine64 >/dev/null
CI=true RF_WINDOWS_TESTS=1 RF_BUILD_DIR="$PWD/build-test" RF_SOURCE_DIR="$PWD" RF_FIXTURES="$PWD/tests/fixtures" \
  RF_WIN_AGENT_EXE="$PWD/build-win/agent/rasfleet-agent.exe" timeout 300 python3 tests/integration/test_agent_windows.py

echo "== build and test under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DRF_SANITIZE=ON \
  -DRF_AGENT_CURL_DEPS="$PWD/build-test/deps" # the Release build's minimal libcurl
echo "== fuzzing: regressions, then ${RF_FUZZ_SECONDS:-18} s per target"
tests/fuzz/run-fuzzers.sh -t "${RF_FUZZ_SECONDS:-18}" -j "$jobs" build-fuzz
echo "== all suites passed"
