#!/usr/bin/env bash
# The nightly cost of --state: a year of 20 sites in the state, then a run that adds one line,
# beside the same line read alone (no state). The aim (issue 14): the nightly run within 1 s
# and within 2 x the run on the new line alone; the cost follows what a run reads, not the
# history. Medians of RUNS alternating pairs; appends a dated section to Benchmarks/RESULTS.md.
#
#   Benchmarks/nightly.sh [RUNS]        (RUNS: default 5)
#
# The year (about 5.3 M lines, 20 vhosts, 10 requests a minute) is generated once into
# Benchmarks/data/ (git-ignored) with its state, and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
case $runs in '' | *[!0-9]* | 0) echo "usage: Benchmarks/nightly.sh [RUNS]" >&2; exit 2 ;; esac

swift build -c release --product logsurge >/dev/null
bin=$(swift build -c release --show-bin-path)/logsurge
data=Benchmarks/data/nightly
mkdir -p "$data"
year=$data/year-20-sites.log
if [ ! -s "$year" ]; then
    echo "generating $year (a year, 20 sites; once)…" >&2
    "$bin" generate --start 2015-11-09T00:00Z --days 365 --rate 10 --seed 365 --format vhost_combined --output - \
        | awk '{ $1 = "site" (NR % 20) ".example:443"; print }' > "$year.partial"
    mv "$year.partial" "$year"
fi
state=$data/year.db
if [ ! -s "$state" ]; then
    echo "reading the year into $state (once)…" >&2
    start=$(date +%s.%N)
    "$bin" --quiet --state "$state" "$year"
    echo "first run over the year: $(echo "$(date +%s.%N) - $start" | bc) s" >&2
fi

# The night's new line: one request a minute after the year's last.
today=$data/today.log
echo 'site3.example:443 203.0.113.9 - - [08/Nov/2016:00:00:30 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.0"' > "$today"

# Wall seconds to the millisecond (GNU time says hundredths: a third of the run alone).
seconds() {
    local start=$EPOCHREALTIME
    "$@" >/dev/null
    echo "$start $EPOCHREALTIME" | awk '{ printf "%.3f\n", $2 - $1 }'
}
nightly=()
alone=()
for _ in $(seq "$runs"); do
    # The night's run on a copy of the state, so that every run adds the same line.
    # (flushed first: the copy's dirty pages are not the night's to write)
    cp "$state" "$data/night.db"
    sync
    nightly+=("$(seconds "$bin" --quiet --state "$data/night.db" "$year" "$today")")
    alone+=("$(seconds "$bin" --quiet "$today")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
n=$(median "${nightly[@]}")
a=$(median "${alone[@]}")
ratio=$(echo "scale=2; $n / $a" | bc)
rows=$("$bin" state "$state" | sed -E 's/.*"requests":([0-9]+).*/\1/')
report=$(cat <<EOF

## nightly --state run, $(date -u +%Y-%m-%dT%H:%MZ) ($(nproc) cores)

A state holding a year of 20 sites ($rows requests; minutes older than 35 days kept as daily
totals), and a run adding one line; medians of $runs alternating runs (wall).

| run | seconds | aim | |
|---|---|---|---|
| nightly: --state, one new line | $n | <= 1 | $(awk -v n="$n" 'BEGIN { print (n <= 1) ? "ok" : "MISSED" }') |
| the new line alone, no state | $a | | |
| nightly / alone | $ratio | <= 2 | $(awk -v r="$ratio" 'BEGIN { print (r <= 2) ? "ok" : "MISSED" }') |
EOF
)
echo "$report"
echo "$report" >> Benchmarks/RESULTS.md
