#!/usr/bin/env bash
# Regenerates docs/logsurge.1, the man page, from the same source as --help (the command
# definitions in Sources/LogSurgeCLI), with swift-argument-parser's generate-manual plugin.
# Run it after changing a command, an option or a help text; ManualCLITests fails until you do.
#
#   Scripts/generate-manual.sh        then: man -l docs/logsurge.1
set -euo pipefail
cd "$(dirname "$0")/.."

# The page's date: the date of the release it documents (CHANGELOG.md's newest dated heading),
# so that regenerating an unchanged command changes nothing.
date=$(grep -m1 -oE '^## \[[^]]+\] - [0-9]{4}-[0-9]{2}-[0-9]{2}' CHANGELOG.md | grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}$' || true)
date=${date:-2026-11-29}

swift package --allow-writing-to-package-directory generate-manual \
    --configuration debug --date "$date" --authors "the logsurge maintainers" >&2
# A blank line is not mdoc (`man` warns "Empty input line"): the paragraph break it means is `.Pp`.
sed 's/^$/.Pp/' .build/plugins/GenerateManual/outputs/LogSurgeCLI/logsurge.1 > docs/logsurge.1
echo "docs/logsurge.1" >&2
