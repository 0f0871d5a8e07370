#!/usr/bin/env bash
# Renders the HTML report (`logsurge --html`) in a real browser and keeps a screenshot of it:
#
#   Scripts/screenshot-html.sh [OUT.png]        # default: docs/report.png, shown in README.md
#
# The page is the report of SampleLogs/ (site www.visas.example, no episode) together with one
# more site generated beside it over the same days, www.immigration.example, with a US surge on
# election night (×8 from 2016-11-09T02:30Z for 4 hours, 30-minute ramps) and a 5xx spike (30%
# for 12 minutes at 2016-11-08T20:10Z), so that the screenshot shows shaded episodes too.
# The same seed gives the same bytes, so the page only changes when the report does.
#
# Needs headless Chromium (Debian: apt-get update && apt-get install -y chromium) and python3;
# CI does not run it. Scripts/crop-png.py cuts the window to the page's height and writes the
# PNG with a 256-colour palette (about 200 KB).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$repo/docs/report.png}")
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
    echo "screenshot-html.sh: needs Chromium: apt-get update && apt-get install -y chromium" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$repo"
swift build -c release --product logsurge
logsurge="$(swift build -c release --show-bin-path)/logsurge"

# Inputs named as a reader would name them: run inside the work directory.
ln -s "$repo/SampleLogs" "$work/SampleLogs"
cd "$work"
"$logsurge" generate --start 2016-11-06T05:00Z --minutes 5040 --rate 40 --seed 8 --format vhost_combined \
    --event surge:US:8:2016-11-09T02:30Z:240:30 --event errors:0.3:2016-11-08T20:10Z:12 \
    --output election-night.log
"$logsurge" --quiet --site www.visas.example --html report.html SampleLogs/ election-night.log

# A window taller than the page; the crop keeps what the page covers.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,5000 \
    --screenshot="$work/window.png" "file://$work/report.html" >"$work/chromium.log" 2>&1 \
    || { cat "$work/chromium.log" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
python3 "$repo/Scripts/crop-png.py" "$work/window.png" "$out"
echo "wrote $out ($(wc -c <"$out") bytes) from a page of $(wc -c <report.html) bytes"
