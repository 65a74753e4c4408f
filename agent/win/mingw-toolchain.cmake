# CMake toolchain for cross-building rasfleet-agent.exe on Debian with
# MinGW-w64 (apt-get install mingw-w64 libz-mingw-w64-dev):
#
#   RF_WIN_DEPS=/opt/rasfleet-win-deps cmake -S . -B build-win \
#     -DCMAKE_TOOLCHAIN_FILE=agent/win/mingw-toolchain.cmake \
#     -DRF_BUILD_SERVER=OFF -DRF_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-win --target rasfleet-agent
#
# RF_WIN_DEPS is a prefix holding MinGW builds of libexpat and libcjson
# (include/, lib/, lib/pkgconfig/libcjson.pc): Debian packages neither for
# MinGW. zlib comes from libz-mingw-w64-dev. See docs/agent.md.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(RF_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${RF_MINGW_PREFIX}-gcc)
set(CMAKE_RC_COMPILER ${RF_MINGW_PREFIX}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${RF_MINGW_PREFIX} $ENV{RF_WIN_DEPS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must see only the Windows libraries
set(ENV{PKG_CONFIG_LIBDIR} "$ENV{RF_WIN_DEPS}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Windows 10 APIs; the MinGW ANSI stdio so that %zu and %lld work
set(CMAKE_C_FLAGS_INIT "-D_WIN32_WINNT=0x0A00 -D__USE_MINGW_ANSI_STDIO=1")
# one self-contained .exe (no libgcc / libwinpthread DLLs to ship)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
