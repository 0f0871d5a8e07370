#!/usr/bin/env bash
# The style CI holds the code to: swift-format's layout (.swift-format: 4 spaces, 140 columns),
# and no line over 140 columns but those that carry a string literal (a message stays on one
# line, so that someone who reads it in a log finds it with grep). Warnings are errors in the
# build itself (Package.swift).
#
#   Scripts/check-style.sh
#   swift format --in-place --recursive --parallel Sources Tests Benchmarks Fuzz/Checks   (fixes the layout)
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Sources Tests Benchmarks Fuzz/Checks Package.swift)
swift format lint --strict --recursive --parallel "${paths[@]}"
long=$(find "${paths[@]}" -name '*.swift' -print0 | xargs -0 awk '
    FNR == 1 { inside = 0 }
    { quotes = gsub(/"""/, "&") }
    length($0) > 140 && !inside && $0 !~ /"/ { print FILENAME ":" FNR ": " length($0) " columns" }
    quotes % 2 == 1 { inside = !inside }')
if [ -n "$long" ]; then
    echo "lines over 140 columns (string literals aside):" >&2
    echo "$long" >&2
    exit 1
fi
