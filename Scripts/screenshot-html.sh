#!/usr/bin/env bash
# Renders the HTML report (`logsurge --html`) in a real browser and keeps a screenshot of it:
#
#   Scripts/screenshot-html.sh [OUT.png]        # default: docs/report.png, shown in README.md
#
# The page is the README's main job on SampleLogs/ (election night 2016: the US rush, the 5xx
# spike as the site buckles, the drop while it is down), the same run as the report the README
# shows. The same logs give the same bytes, so the page only changes when the report does.
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
"$logsurge" --quiet --html report.html SampleLogs/

# A window taller than the page; the crop keeps what the page covers.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,5000 \
    --screenshot="$work/window.png" "file://$work/report.html" >"$work/chromium.log" 2>&1 \
    || { cat "$work/chromium.log" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
python3 "$repo/Scripts/crop-png.py" "$work/window.png" "$out"
echo "wrote $out ($(wc -c <"$out") bytes) from a page of $(wc -c <report.html) bytes"
