#!/usr/bin/env bash
# The detection benchmark: recall, false alerts per simulated day and detection delay of the
# default detectors over a matrix of generated scenarios (surges x2..x50 of 1-6 hours at the
# watched country's daily peak and trough, 5xx spikes of 5-35% lasting 3-25 minutes during
# the site's working day, quiet control weeks; peak volumes of about 40 and 400 requests per
# minute; several seeds). Appends a dated result to Benchmarks/DETECTION.md.
#
#   Benchmarks/detection.sh [SEEDS]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-3}
swift build -c release --product DetectionBenchmark >/dev/null
bin=$(swift build -c release --show-bin-path)/DetectionBenchmark
result=$("$bin" --seeds "$seeds")
echo "$result"
{
    echo
    echo "## $(date -u +%Y-%m-%d) detection.sh, $seeds seeds, commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
    echo
    echo "$result"
} >> Benchmarks/DETECTION.md
