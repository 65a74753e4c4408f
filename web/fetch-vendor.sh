#!/bin/sh
# fetch-vendor.sh - copies the dashboard's third-party chart library into
# web/vendor/ (git-ignored; never committed). Run by the deploy scripts
# after the packages are installed, and by tests/web/run.sh when missing.
#
# Sources, first found wins:
#   $RF_CHARTJS                                   an explicit file
#   /usr/share/javascript/chart.js/chart.umd.min.js  Debian libjs-chart.js (4.x)
#   /usr/share/javascript/chart.js/chart.umd.js
#   /usr/share/javascript/chart.js/chart.min.js      Debian libjs-chart.js (3.x, bookworm)
#   /usr/share/javascript/chart.js/chart.js
#   <repo>/tests/web/node_modules/chart.js/dist/chart.umd.js   npm chart.js, if installed
# The dashboard needs the UMD build (it defines window.Chart); Chart.js 3
# and 4 both work. Exit 0 when web/vendor/chart.umd.min.js is in place,
# 1 with a message saying what to install otherwise.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dest="$here/vendor"
out="$dest/chart.umd.min.js"

for src in ${RF_CHARTJS:-} \
    /usr/share/javascript/chart.js/chart.umd.min.js \
    /usr/share/javascript/chart.js/chart.umd.js \
    /usr/share/javascript/chart.js/chart.min.js \
    /usr/share/javascript/chart.js/chart.js \
    "$here/../tests/web/node_modules/chart.js/dist/chart.umd.js"; do
    [ -n "$src" ] && [ -f "$src" ] || continue
    # a UMD build assigns the global Chart; the ESM files do not
    if ! head -c 2000 "$src" | grep -q 'typeof exports'; then
        continue
    fi
    mkdir -p "$dest"
    real=$(readlink -f "$src")
    cp "$real" "$out.tmp"
    mv "$out.tmp" "$out"
    version=$(head -c 400 "$out" | sed -n 's/.*Chart\.js v\([0-9][0-9.]*\).*/\1/p' | head -n 1)
    {
        echo "chart.umd.min.js: Chart.js ${version:-unknown version} (MIT licence), copied from $real"
        echo "by web/fetch-vendor.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Not part of the repository."
    } > "$dest/SOURCE.txt"
    echo "fetch-vendor: Chart.js ${version:-?} from $real -> $out"
    exit 0
done

echo "fetch-vendor: no Chart.js UMD build found." >&2
echo "  Install Debian's package: apt-get install -y libjs-chart.js" >&2
echo "  (or: npm install chart.js in tests/web, or set RF_CHARTJS=/path/to/chart.umd.js)" >&2
exit 1
