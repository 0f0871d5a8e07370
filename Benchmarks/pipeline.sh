#!/usr/bin/env bash
# End-to-end speed of logsurge on a >= 1 GB gzip sample, side by side with `pigz -dc` (the zlib
# floor) in one run: wall time, lines/s and peak memory, medians of alternating runs.
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
gz_bytes=$(stat -c %s "$sample")
plain_bytes=$(gzip -l "$sample" | awk 'NR==2 {print $2}')   # modulo 4 GiB; recomputed below if needed

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
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
pigz_s=$(cut -d' ' -f1 "$data/pigz.times" | median)
ls_s=$(cut -d' ' -f1 "$data/logsurge.times" | median)
ls_kib=$(cut -d' ' -f2 "$data/logsurge.times" | sort -n | tail -1)
pigz_kib=$(cut -d' ' -f2 "$data/pigz.times" | sort -n | tail -1)
report=$(awk -v l="$lines" -v pb="$plain_bytes" -v gb="$gz_bytes" -v p="$pigz_s" -v s="$ls_s" -v m="$ls_kib" -v pm="$pigz_kib" -v runs="$runs" 'BEGIN {
    printf "sample: %d lines, %.0f MB plain, %.0f MB gzip; medians of %d alternating runs\n", l, pb/1e6, gb/1e6, runs
    printf "| command | wall s | lines/s | plain MB/s | peak MB |\n|---|---|---|---|---|\n"
    printf "| `pigz -dc FILE > /dev/null` | %.2f | %.2f M | %.0f | %.1f |\n", p, l/p/1e6, pb/p/1e6, pm/1024
    printf "| `logsurge --quiet --buckets /dev/null FILE` | %.2f | %.2f M | %.0f | %.1f |\n", s, l/s/1e6, pb/s/1e6, m/1024
    printf "\nratio logsurge / pigz -dc: %.2f (target <= 1.5 now, <= 1.1 later); peak memory %.1f MB (target < 100)\n", s/p, m/1024
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
