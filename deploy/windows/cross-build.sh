#!/usr/bin/env bash
# Cross-build check of the Windows agent with Debian's MinGW-w64, meant as a
# CI step (see docs/agent.md, "Windows"):
#  1. every source of agent/, agent/win/ and common/ is compiled for
#     x86_64-w64-mingw32 with the project's warnings as errors (the format
#     checks excepted, see agent/CMakeLists.txt); the declarations of cJSON
#     and expat come from the host's headers, which are target-neutral;
#  2. when RF_WIN_DEPS names a prefix with MinGW builds of libexpat and
#     libcjson (and libcurl.pc, which bench/CMakeLists.txt requires), the
#     real CMake cross build links build-win/agent/rasfleet-agent.exe.
# Exit 0 when every step that could run passed.
set -euo pipefail
cd "$(dirname "$0")/../.."

cc=x86_64-w64-mingw32-gcc
if ! command -v "$cc" >/dev/null || [ ! -f /usr/x86_64-w64-mingw32/include/zlib.h ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y mingw-w64 libz-mingw-w64-dev >/dev/null
  else
    echo "cross-build: needs mingw-w64 and libz-mingw-w64-dev (apt-get install)" >&2
    exit 1
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/include/cjson"
cp /usr/include/cjson/cJSON.h "$work/include/cjson/"
cp /usr/include/expat.h /usr/include/expat_external.h "$work/include/"

flags=(-std=c11 -O2 -D_GNU_SOURCE -D__USE_MINGW_ANSI_STDIO=1 -D_WIN32_WINNT=0x0A00
       -DRF_VERSION=\"0.1.0\" -include agent/win/compat.h
       -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-format
       -Iinclude -Icommon -Iagent -I"$work/include")
n=0
for f in agent/*.c agent/win/*.c common/*.c; do
  extra=()
  case "$f" in common/*) extra=(-Wno-maybe-uninitialized -Wno-stringop-overflow) ;; esac
  "$cc" "${flags[@]}" "${extra[@]}" -c "$f" -o "$work/$(basename "$f").o"
  n=$((n + 1))
done
echo "cross-build: $n sources compiled for Windows (x86_64-w64-mingw32, -Werror)"

if [ -n "${RF_WIN_DEPS:-}" ]; then
  cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=agent/win/mingw-toolchain.cmake \
    -DRF_BUILD_SERVER=OFF -DRF_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-win --target rasfleet-agent -j"$(nproc)"
  echo "cross-build: linked build-win/agent/rasfleet-agent.exe"
else
  echo "cross-build: RF_WIN_DEPS not set: link step skipped (needs MinGW libexpat and libcjson)"
fi
