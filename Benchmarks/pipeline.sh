#!/usr/bin/env bash
# End-to-end speed of logsurge on a >= 1 GB gzip sample, side by side with `pigz -dc` (the zlib
# floor) in one run: wall time, lines/s and peak memory, medians of alternating runs. Also the
# same sample plain beside `wc -l` (the read floor), and plain with one thread (scaling).
#
#   Benchmarks/pipeline.sh [RUNS]        (default 3; needs pigz and GNU time: apt-get install pigz time)
#
# The sample is generated once by `logsurge generate` into Benchmarks/data/ (git-ignored) and reused.
# A dated result is appended to Benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
for tool in pigz /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y pigz time" >&2; exit 2; }
done

swift build -c release --product logsurge >/dev/null
bin=$(swift build -c release --show-bin-path)/logsurge
data=Benchmarks/data
sample=$data/sample-7d.log.gz
mkdir -p "$data"
if [ ! -s "$sample" ]; then
    echo "generating $sample (about 5.5 million lines, once)…" >&2
    "$bin" generate --days 7 --rate 1100 --seed 2016 --gzip --output "$sample"
fi
plain=$data/sample-7d.log
[ -s "$plain" ] || gzip -dc "$sample" > "$plain"
gz_bytes=$(stat -c %s "$sample")

# time_run NAME COMMAND... : appends "seconds peak_kib" for one run to $data/NAME.times
time_run() {
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o "$data/$name.one" "$@" >/dev/null 2>"$data/$name.err" || { cat "$data/$name.err" >&2; exit 1; }
    cat "$data/$name.one" >> "$data/$name.times"
}
rm -f "$data"/*.times
"$bin" --quiet --summary "$data/summary.json" "$sample"
lines=$(grep -o '"lines":[0-9]*' "$data/summary.json" | head -1 | cut -d: -f2)
plain_bytes=$(grep -o '"bytes_decompressed":[0-9]*' "$data/summary.json" | head -1 | cut -d: -f2)

for i in $(seq "$runs"); do
    time_run pigz pigz -dc "$sample"
    time_run logsurge "$bin" --quiet --buckets /dev/null "$sample"
    time_run wc wc -l "$plain"
    time_run plain "$bin" --quiet --buckets /dev/null "$plain"
    time_run plain1 "$bin" --quiet --buckets /dev/null --threads 1 "$plain"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
med() { cut -d' ' -f1 "$data/$1.times" | median; }
peak() { cut -d' ' -f2 "$data/$1.times" | sort -n | tail -1; }
report=$(awk -v l="$lines" -v pb="$plain_bytes" -v gb="$gz_bytes" -v runs="$runs" \
    -v p="$(med pigz)" -v pm="$(peak pigz)" -v s="$(med logsurge)" -v m="$(peak logsurge)" \
    -v w="$(med wc)" -v wm="$(peak wc)" -v q="$(med plain)" -v qm="$(peak plain)" \
    -v q1="$(med plain1)" -v q1m="$(peak plain1)" -v threads="$(nproc)" 'BEGIN {
    row = "| %s | %.2f | %.2f M | %.0f | %.1f |\n"
    printf "sample: %d lines, %.0f MB plain, %.0f MB gzip; medians of %d alternating runs\n\n", l, pb/1e6, gb/1e6, runs
    printf "| command | wall s | lines/s | plain MB/s | peak MB |\n|---|---|---|---|---|\n"
    printf row, "pigz -dc FILE.gz > /dev/null", p, l/p/1e6, pb/p/1e6, pm/1024
    printf row, "logsurge --quiet --buckets /dev/null FILE.gz", s, l/s/1e6, pb/s/1e6, m/1024
    printf row, "wc -l FILE", w, l/w/1e6, pb/w/1e6, wm/1024
    printf row, "logsurge --quiet --buckets /dev/null FILE (" threads " threads)", q, l/q/1e6, pb/q/1e6, qm/1024
    printf row, "logsurge ... --threads 1 FILE", q1, l/q1/1e6, pb/q1/1e6, q1m/1024
    printf "\nlogsurge on .gz / pigz -dc: %.2f (aim <= 1.5); plain / wc -l: %.2f; %d threads / 1 thread: %.2fx; peak memory %.1f MB (aim < 100)\n", s/p, q/w, threads, q1/q, (m > qm ? m : qm)/1024
}')
echo "$report"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
    echo
    echo "## $(date -u +%Y-%m-%d) pipeline.sh: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $cpu"
    echo "logsurge $("$bin" --version | head -1 | cut -d' ' -f2), commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
    echo
    echo "$report"
} >> Benchmarks/RESULTS.md
