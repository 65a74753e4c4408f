#!/usr/bin/env bash
# deploy/windows/cross-build.sh [--compile-only] [BUILD_DIR]
#
# Cross-builds the Windows agent with Debian's MinGW-w64 (x86_64-w64-mingw32)
# and links BUILD_DIR/agent/rasfleet-agent.exe (default BUILD_DIR: build-win
# in the source tree), a static .exe that needs no DLL besides Windows' own.
# The CI step (see docs/agent.md, "Windows"): the project's warnings are
# errors here too (-Werror; the format checks excepted, agent/CMakeLists.txt).
#
# Debian has a MinGW zlib (libz-mingw-w64-dev) but no MinGW libexpat or
# libcjson: their Debian source packages (the bookworm versions, with
# Debian's patches, security fixes included) are downloaded with
# `apt-get source` into BUILD_DIR/deps and built there as static libraries
# (BUILD_DIR/deps/prefix). Nothing third-party enters the source tree. The
# prefix is kept: later runs need no network. Remove BUILD_DIR/deps (or set
# RF_WIN_DEPS_REFRESH=1) to fetch the current Debian versions again.
#
# Environment:
#   RF_WIN_DEPS=DIR         use this prefix (MinGW expat + cjson, e.g. MSYS2's)
#                           instead of building one
#   RF_WIN_DEBIAN_SUITE=S   Debian suite of the sources (default bookworm)
#   RF_WIN_DEPS_REFRESH=1   rebuild the cached prefix
# --compile-only: no download, no link: compile every source of agent/,
#   agent/win/ and common/ against the host's (target-neutral) cJSON and
#   expat headers; for a machine without network and without the cache.
#
# Missing tools (mingw-w64, libz-mingw-w64-dev, cmake...) are installed with
# apt-get when run as root. Exit 0 when the .exe is linked (or, with
# --compile-only, every source compiled).
set -euo pipefail

compile_only=0
if [ "${1:-}" = "--compile-only" ]; then
  compile_only=1
  shift
fi
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
build="${1:-}"
if [ -n "$build" ] && [ "${build#/}" = "$build" ]; then
  build="$PWD/$build" # relative to the caller's directory
fi
cd "$(dirname "$0")/../.."
src="$PWD"
build="${build:-$src/build-win}"
triplet=x86_64-w64-mingw32
cc=$triplet-gcc
sysroot=/usr/$triplet
t0=$(date +%s)
say() { echo "cross-build: $*"; }
die() { echo "cross-build: $*" >&2; exit 1; }

# ---- tools ----
need_pkgs=()
command -v "$cc" >/dev/null || need_pkgs+=(gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64)
[ -f "$sysroot/lib/libz.a" ] || need_pkgs+=(libz-mingw-w64-dev)
if [ "$compile_only" = 0 ]; then
  command -v cmake >/dev/null || need_pkgs+=(cmake)
  command -v pkg-config >/dev/null || need_pkgs+=(pkg-config)
  command -v patch >/dev/null || need_pkgs+=(patch)
  command -v xz >/dev/null || need_pkgs+=(xz-utils)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "needs: apt-get install ${need_pkgs[*]}"
  say "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null; }
fi

# ---- --compile-only: every source, host headers for cJSON and expat ----
if [ "$compile_only" = 1 ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/include/cjson"
  cp /usr/include/cjson/cJSON.h "$work/include/cjson/"
  cp /usr/include/expat.h /usr/include/expat_external.h "$work/include/"
  flags=(-std=c11 -O2 -D_GNU_SOURCE -D__USE_MINGW_ANSI_STDIO=1 -D_WIN32_WINNT=0x0A00
         -DRF_VERSION=\"0.1.0\" -DCJSON_HIDE_SYMBOLS -include agent/win/compat.h
         -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-format
         -Iinclude -Icommon -Iagent -I"$work/include")
  n=0
  for f in agent/*.c agent/win/*.c common/*.c; do
    extra=()
    case "$f" in common/*) extra=(-Wno-maybe-uninitialized -Wno-stringop-overflow) ;; esac
    "$cc" "${flags[@]}" "${extra[@]}" -c "$f" -o "$work/$(basename "$f").o"
    n=$((n + 1))
  done
  say "$n sources compiled for Windows ($triplet, -Werror); not linked (--compile-only)"
  exit 0
fi

# ---- dependencies: static MinGW libexpat and libcjson ----
suite="${RF_WIN_DEBIAN_SUITE:-bookworm}"
# the cache is rebuilt when this changes: bump the number with build_deps()
recipe="rasfleet-win-deps 1 $suite $($cc -dumpversion)"
deps="$build/deps"
mkdir -p "$deps"
exec 9>"$deps/.lock"
flock 9 # one build of the cache at a time

# debsrc_fetch, debsrc_unpack: apt-get source + Debian's patch series
# shellcheck source=deploy/debian-source.sh
. "$src/deploy/debian-source.sh"

build_deps() {
  local stage="$deps/prefix.new" dl="$deps/dl" w="$deps/work"
  rm -rf "$stage" "$dl" "$w"
  mkdir -p "$stage/include/cjson" "$stage/lib/pkgconfig" "$w"
  say "fetching the Debian $suite sources of cjson and expat"
  debsrc_fetch "$deps/apt" "$suite" "$dl" cjson expat
  local vcjson vexpat
  vcjson=$(basename "$(ls "$dl"/cjson_*.dsc)" .dsc); vcjson=${vcjson#cjson_}
  vexpat=$(basename "$(ls "$dl"/expat_*.dsc)" .dsc); vexpat=${vexpat#expat_}

  # cJSON: one file. CJSON_HIDE_SYMBOLS: no __declspec(dllexport) into the .exe
  debsrc_unpack "$dl" cjson "$w/cjson"
  "$cc" -std=c99 -O2 -DCJSON_HIDE_SYMBOLS -c "$w/cjson/cJSON.c" -o "$w/cJSON.o"
  $triplet-ar rcs "$stage/lib/libcjson.a" "$w/cJSON.o"
  cp "$w/cjson/cJSON.h" "$stage/include/cjson/"
  cat > "$stage/lib/pkgconfig/libcjson.pc" <<EOF
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libcjson
Version: ${vcjson%%-*}
Description: cJSON $vcjson (Debian source), static, $triplet
Libs: -L\${libdir} -lcjson
Cflags: -DCJSON_HIDE_SYMBOLS -I\${includedir} -I\${includedir}/cjson
EOF

  # expat: its own CMake, static, nothing but the library
  debsrc_unpack "$dl" expat "$w/expat"
  # Debian's backport of the CVE-2024-8176 fix tests `#if XML_DTD == 1`: true
  # with its autotools config.h (XML_DTD 1), an error with 2.5.0's CMake
  # template, which defines XML_DTD empty
  sed -i 's/^#cmakedefine XML_DTD$/#cmakedefine XML_DTD 1/' "$w/expat/expat/expat_config.h.cmake"
  cmake -S "$w/expat/expat" -B "$w/expat-build" \
    -DCMAKE_TOOLCHAIN_FILE="$src/agent/win/mingw-toolchain.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$stage" -DCMAKE_INSTALL_LIBDIR=lib \
    -DEXPAT_SHARED_LIBS=OFF -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF \
    -DEXPAT_BUILD_TESTS=OFF -DEXPAT_BUILD_DOCS=OFF -DEXPAT_BUILD_FUZZERS=OFF \
    -DEXPAT_BUILD_PKGCONFIG=ON >"$w/expat-cmake.log" 2>&1 ||
    { cat "$w/expat-cmake.log" >&2; die "expat: cmake configure failed"; }
  cmake --build "$w/expat-build" -j"$(nproc)" >"$w/expat-build.log" 2>&1 ||
    { cat "$w/expat-build.log" >&2; die "expat: build failed"; }
  cmake --install "$w/expat-build" >/dev/null

  # bench/CMakeLists.txt asks pkg-config for libcurl whatever the platform;
  # no bench target is built here. Placeholder until bench/ skips WIN32.
  cat > "$stage/lib/pkgconfig/libcurl.pc" <<EOF
Name: libcurl
Version: 0
Description: placeholder for bench/CMakeLists.txt (not linked: only rasfleet-agent is built)
Libs:
Cflags:
EOF
  printf '%s\ncjson %s\nexpat %s\n' "$recipe" "$vcjson" "$vexpat" > "$stage/rasfleet-deps.stamp"
  rm -rf "$deps/prefix" "$w" "$dl"
  mv "$stage" "$deps/prefix"
  say "built static MinGW cjson $vcjson and expat $vexpat in $deps/prefix"
}

if [ -n "${RF_WIN_DEPS:-}" ]; then
  prefix="$RF_WIN_DEPS"
  say "dependencies from RF_WIN_DEPS=$prefix"
else
  prefix="$deps/prefix"
  if [ "${RF_WIN_DEPS_REFRESH:-0}" = 1 ] || [ ! -f "$prefix/rasfleet-deps.stamp" ] ||
     [ "$(head -n1 "$prefix/rasfleet-deps.stamp")" != "$recipe" ]; then
    build_deps
  else
    say "dependencies cached: $(tail -n +2 "$prefix/rasfleet-deps.stamp" | tr '\n' ' ')"
  fi
fi

# ---- the agent ----
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=agent/win/mingw-toolchain.cmake \
  -DRF_WIN_DEPS="$prefix" -DRF_BUILD_SERVER=OFF -DRF_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=Release >"$deps/configure.log" 2>&1 ||
  { cat "$deps/configure.log" >&2; die "cmake configure failed"; }
cmake --build "$build" --target rasfleet-agent -j"$(nproc)"
exe="$build/agent/rasfleet-agent.exe"
[ -f "$exe" ] || die "$exe not produced"

# static: only Windows' own DLLs may be imported
bad=""
dlls=$($triplet-objdump -p "$exe" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr '[:upper:]' '[:lower:]' | sort -u)
for d in $dlls; do
  case "$d" in
    kernel32.dll|advapi32.dll|bcrypt.dll|iphlpapi.dll|msvcrt.dll|psapi.dll|user32.dll| \
    winhttp.dll|wevtapi.dll|ws2_32.dll|api-ms-win-*.dll) ;;
    *) bad="$bad $d" ;;
  esac
done
[ -z "$bad" ] || die "$exe needs non-system DLLs:$bad"
say "linked $exe ($(($(stat -c %s "$exe") / 1024)) KiB; imports: ${dlls//$'\n'/ }) in $(($(date +%s) - t0)) s"
