#!/usr/bin/env bash
# deploy/build-curl-min.sh DEPS_DIR [CC]
#
# Builds the agent's minimal libcurl (agent/CMakeLists.txt runs this when
# RF_AGENT_CURL=minimal, the default): Debian's curl source package (the
# bookworm version, with Debian's patches, security fixes included), fetched
# with `apt-get source` into DEPS_DIR and built there as a static, PIC
# libcurl.a for HTTP and HTTPS only, with OpenSSL (Debian's libssl-dev,
# linked statically into the agent by agent/CMakeLists.txt) as its TLS
# library: no FTP, LDAP, SSH, RTMP, HTTP/2, IDN, PSL, GSSAPI, brotli, zstd,
# zlib, cookies, alt-svc, HSTS, DoH, netrc, NTLM. Proxies from the
# environment stay. Why (and why OpenSSL, not mbedTLS or wolfSSL):
# docs/agent.md, "Performance".
#
# The result, DEPS_DIR/curl-min/{include,lib/libcurl.a,rasfleet-curl.stamp},
# is kept: later runs (and builds) need no network. It is rebuilt when the
# recipe below, the compiler or the OpenSSL version changes; set
# RF_CURL_REFRESH=1 (or remove DEPS_DIR/curl-min) to fetch the current Debian
# version again. Nothing third-party enters the source tree.
#
# Environment: RF_CURL_DEBIAN_SUITE (default bookworm), RF_CURL_REFRESH=1.
# Exit 0 when DEPS_DIR/curl-min holds the library.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
deps="$1"
cc="${2:-cc}"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=deploy/debian-source.sh
. "$here/debian-source.sh"
suite="${RF_CURL_DEBIAN_SUITE:-bookworm}"
say() { echo "build-curl-min: $*"; }

openssl_version=$(dpkg-query -W -f='${Version}' libssl-dev 2>/dev/null) ||
  debsrc_die "needs libssl-dev (deploy/install-deps.sh installs it)"
# the cache is rebuilt when this changes: bump the number with the options
recipe="rasfleet-curl-min 2 $suite openssl $openssl_version $("$cc" -dumpfullversion -dumpversion | head -n1)"
out="$deps/curl-min"
mkdir -p "$deps"
exec 9>"$deps/.curl-min.lock"
flock 9 # one build of the cache at a time

if [ "${RF_CURL_REFRESH:-0}" != 1 ] && [ -f "$out/rasfleet-curl.stamp" ] &&
   [ "$(head -n1 "$out/rasfleet-curl.stamp")" = "$recipe" ]; then
  exit 0
fi

t0=$(date +%s)
work="$deps/curl-work"
stage="$deps/curl-min.new"
rm -rf "$work" "$stage"
mkdir -p "$work" "$stage/lib" "$stage/include"
say "fetching the Debian $suite source of curl"
debsrc_fetch "$work/apt" "$suite" "$work/dl" curl
version=$(basename "$(ls "$work/dl"/curl_*.dsc)" .dsc)
version=${version#curl_}
# Debian's last two patches make the GnuTLS and NSS flavours; the OpenSSL
# flavour (and this build) is the series without them
debsrc_unpack "$work/dl" curl "$work/src" 90_gnutls.patch

# curl's own CMake build; its checks take most of the time (with Ninja: half)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$work/src" -B "$work/build" "${generator[@]}" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_CURL_EXE=OFF \
  -DBUILD_TESTING=OFF -DCURL_ENABLE_EXPORT_TARGET=OFF -DENABLE_MANUAL=OFF -DPICKY_COMPILER=OFF \
  -DHTTP_ONLY=ON -DCURL_DISABLE_LDAP=ON -DCURL_DISABLE_LDAPS=ON -DCURL_USE_OPENSSL=ON \
  -DCURL_USE_MBEDTLS=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBSSH=OFF -DUSE_NGHTTP2=OFF \
  -DUSE_LIBIDN2=OFF -DCURL_USE_LIBPSL=OFF -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF \
  -DCURL_USE_GSSAPI=OFF -DCURL_ZLIB=OFF -DCURL_DISABLE_ALTSVC=ON -DCURL_DISABLE_HSTS=ON \
  -DCURL_DISABLE_COOKIES=ON -DCURL_DISABLE_NETRC=ON -DCURL_DISABLE_DOH=ON \
  -DCURL_DISABLE_MIME=ON -DCURL_DISABLE_NTLM=ON -DENABLE_UNIX_SOCKETS=OFF \
  >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; debsrc_die "curl: cmake configure failed"; }
cmake --build "$work/build" --target libcurl -j"$(nproc)" >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log" >&2; debsrc_die "curl: build failed"; }

cp "$work/build/lib/libcurl.a" "$stage/lib/"
cp -r "$work/src/include/curl" "$stage/include/"
rm -f "$stage/include/curl/Makefile"*
printf '%s\ncurl %s\n%s\n' "$recipe" "$version" \
  "$(grep -E 'Enabled (features|protocols|SSL backends)' "$work/configure.log")" \
  > "$stage/rasfleet-curl.stamp"
rm -rf "$out" "$work"
mv "$stage" "$out"
say "built a static HTTP/HTTPS libcurl $version (OpenSSL $openssl_version) in $out in $(($(date +%s) - t0)) s"
