# deploy/debian-source.sh - sourced, not run: fetches Debian source packages
# and unpacks them with Debian's patch series applied, for the scripts that
# build third-party libraries into a build directory (deploy/windows/
# cross-build.sh: MinGW cJSON and expat; deploy/build-curl-min.sh: the
# agent's minimal libcurl). Nothing third-party enters the source tree.
#
#   debsrc_fetch APT_DIR SUITE DEST PKG...   apt-get source --download-only
#   debsrc_unpack DL PKG DIR [STOP]          orig tarball + debian/patches
#                                            (the series up to, not
#                                            including, patch STOP)
#
# Both exit the calling script (status 1, message on stderr) on failure.

debsrc_die() { echo "${0##*/}: $*" >&2; exit 1; }

# apt-get source from a private source list in APT_DIR: the system's apt
# config is not touched, and apt checks every file against the signed
# Release of SUITE.
debsrc_fetch() { # apt_dir suite dest pkg...
  local apt_dir="$1" suite="$2" dest="$3"
  shift 3
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dest"
  cat > "$apt_dir/debian.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt_dir"
              -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
              -o Debug::NoLocking=true -o APT::Sandbox::User="$(id -un)" -q)
  apt-get "${opts[@]}" update >"$apt_dir/update.log" 2>&1 ||
    { cat "$apt_dir/update.log" >&2; debsrc_die "apt-get update of the $suite sources failed"; }
  (cd "$dest" && apt-get "${opts[@]}" source --download-only "$@") >"$apt_dir/source.log" 2>&1 ||
    { cat "$apt_dir/source.log" >&2; debsrc_die "apt-get source $* failed"; }
}

# orig tarball + Debian's patch series (format 3.0 (quilt)) into dir; with
# stop, the series ends before that patch
debsrc_unpack() { # dl pkg dir [stop]
  local dl="$1" pkg="$2" dir="$3" stop="${4:-}" p opts
  local orig=("$dl/${pkg}_"*.orig.tar.*) deb=("$dl/${pkg}_"*.debian.tar.*)
  if [ ! -f "${orig[0]}" ] || [ ! -f "${deb[0]}" ]; then
    debsrc_die "$pkg: no orig + debian tarballs in $dl"
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  tar -C "$dir" --strip-components=1 -xf "${orig[0]}"
  tar -C "$dir" -xf "${deb[0]}"
  if [ -f "$dir/debian/patches/series" ]; then
    while read -r p opts; do
      case "$p" in ''|'#'*) continue ;; esac
      [ "$p" = "$stop" ] && break
      # shellcheck disable=SC2086 # a series line's options are words
      patch -d "$dir" -s -f --batch ${opts:--p1} < "$dir/debian/patches/$p" ||
        debsrc_die "$pkg: Debian patch $p does not apply"
    done < "$dir/debian/patches/series"
  fi
}
