# CMake toolchain for cross-building rasfleet-agent.exe on Debian with
# MinGW-w64 (apt-get install mingw-w64 libz-mingw-w64-dev). The usual way is
# deploy/windows/cross-build.sh, which builds the two missing libraries and
# then runs, with RF_WIN_DEPS = build-win/deps/prefix:
#
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=agent/win/mingw-toolchain.cmake \
#     -DRF_WIN_DEPS=/path/to/prefix \
#     -DRF_BUILD_SERVER=OFF -DRF_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-win --target rasfleet-agent
#
# RF_WIN_DEPS (a -D cache entry, or the environment variable of the same
# name) is a prefix holding static MinGW builds of libexpat and libcjson
# (include/, lib/, lib/pkgconfig/{expat,libcjson}.pc): Debian packages
# neither for MinGW. zlib is libz-mingw-w64-dev's static libz.a.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(RF_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${RF_MINGW_PREFIX}-gcc)
set(CMAKE_RC_COMPILER ${RF_MINGW_PREFIX}-windres)

if(NOT RF_WIN_DEPS AND DEFINED ENV{RF_WIN_DEPS})
  set(RF_WIN_DEPS "$ENV{RF_WIN_DEPS}")
endif()
# try_compile() projects read this file again: hand them the same prefix
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES RF_WIN_DEPS)

set(CMAKE_FIND_ROOT_PATH /usr/${RF_MINGW_PREFIX} ${RF_WIN_DEPS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must see only the Windows libraries
set(ENV{PKG_CONFIG_LIBDIR} "/usr/${RF_MINGW_PREFIX}/lib/pkgconfig")
if(RF_WIN_DEPS)
  set(ENV{PKG_CONFIG_LIBDIR} "${RF_WIN_DEPS}/lib/pkgconfig:$ENV{PKG_CONFIG_LIBDIR}")
endif()
set(ENV{PKG_CONFIG_PATH} "")

# Windows 10 APIs; the MinGW ANSI stdio so that %zu and %lld work
set(CMAKE_C_FLAGS_INIT "-D_WIN32_WINNT=0x0A00 -D__USE_MINGW_ANSI_STDIO=1")
# one self-contained .exe (no libgcc / libwinpthread / zlib1 DLLs to ship):
# -static, and libz.a rather than the import library libz.dll.a
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(ZLIB_USE_STATIC_LIBS ON)
