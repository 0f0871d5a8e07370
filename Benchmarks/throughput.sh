#!/usr/bin/env bash
# End-to-end throughput of logsurge beside what a user would otherwise run, all in one run:
# logsurge on a >= 1 GB sample (gzip with zlib and with ISA-L, plain, 1, 2 and N threads, and
# the same lines as 4 rotated archives; and, for memory, 150 sites over a month)
# against pigz -dc, igzip -dc, wc -l, zcat | mawk and GoAccess; the same requests read through
# a --log-format string, as nginx main behind a CDN with --real-ip, and as JSON lines, beside the
# built-in combined run; and shapes of real servers beside the same number of lines of the
# sample (50 vhosts over a month and over a year, at 1 and 2 threads; a real-shaped corpus
# written by Benchmarks/real-shaped.py, not by logsurge). Medians of RUNS runs taken
# round-robin (wall time and peak memory from GNU time), the ratios against the targets, then the per-stage table of StageBenchmark. Appends a
# dated section to Benchmarks/RESULTS.md.
#
#   Benchmarks/throughput.sh [RUNS] [--no-stages] [--no-shapes]       (RUNS: default 3)
#
# Installs its tools with apt-get when missing. The sample is generated once into
# Benchmarks/data/ (git-ignored) and reused, with its plain copy and a 1 M-line slice for
# GoAccess. LOGSURGE_BENCH_SAMPLE=FILE.gz measures another sample (plain copy: FILE, made when
# missing); one under 5 M lines or 1 GB plain is measured but not appended to RESULTS.md.
# Exit status 0 even when a target is missed (the report says so); nonzero when a command failed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
stages=yes
shapes=yes
for argument in "$@"; do
    case $argument in
        --no-stages) stages=no ;;
        --no-shapes) shapes=no ;;
        '' | *[!0-9]* | 0) echo "usage: Benchmarks/throughput.sh [RUNS] [--no-stages] [--no-shapes]" >&2; exit 2 ;;
        *) runs=$argument ;;
    esac
done

# --- tools: command, then the Debian package that provides it
missing=()
for tool in pigz:pigz igzip:isal goaccess:goaccess mawk:mawk /usr/bin/time:time; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
# ISA-L's header, for logsurge's --inflate isal (compiled in only when it is there)
[ -e /usr/include/isa-l/igzip_lib.h ] || missing+=(libisal-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}…" >&2
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    # a build from before the header was there has no ISA-L: its C file is compiled again
    case " ${missing[*]} " in *" libisal-dev "*) touch Sources/CISAL/isal.c ;; esac
fi

swift build -c release --product logsurge >/dev/null
if [ "$stages" = yes ]; then swift build -c release --product StageBenchmark >/dev/null; fi
bin_dir=$(swift build -c release --show-bin-path)
bin=$bin_dir/logsurge
# ISA-L is compiled in when the header is there at compile time: a build directory older than the
# header (installed by hand, or by an earlier run in another checkout) still refuses it
if [ -e /usr/include/isa-l/igzip_lib.h ] &&
    printf '' | gzip -c | "$bin" --quiet --inflate isal - 2>&1 >/dev/null | grep -q 'built without ISA-L'; then
    touch Sources/CISAL/isal.c
    swift build -c release --product logsurge >/dev/null
    if [ "$stages" = yes ]; then swift build -c release --product StageBenchmark >/dev/null; fi
fi

# --- the sample, its plain copy and the GoAccess slice; files are renamed into place when
# complete, so an interrupted run never leaves a truncated sample to be reused
data=Benchmarks/data
work=$data/run
mkdir -p "$data"
rm -rf "$work"
mkdir "$work"
sample=${LOGSURGE_BENCH_SAMPLE:-$data/sample-7d.log.gz}
case $sample in
    *.gz) ;;
    *) echo "LOGSURGE_BENCH_SAMPLE must name a .gz file" >&2; exit 2 ;;
esac
if [ ! -s "$sample" ]; then
    if [ -n "${LOGSURGE_BENCH_SAMPLE:-}" ]; then echo "no sample at $sample" >&2; exit 2; fi
    echo "generating $sample (5.18 M lines, 1.34 GB plain; once)…" >&2
    "$bin" generate --days 7 --rate 1100 --seed 2016 --gzip --output "$sample.partial"
    mv "$sample.partial" "$sample"
fi
plain=${sample%.gz}
if [ ! -s "$plain" ]; then
    gzip -dc "$sample" > "$plain.partial"
    mv "$plain.partial" "$plain"
fi
slice=$data/$(basename "$plain" .log)-1M.log
if [ ! -s "$slice" ]; then
    head -n 1000000 "$plain" > "$slice.partial"
    mv "$slice.partial" "$slice"
fi

# the same lines as a rotated set of 4 gzip archives (read side by side, one per core)
rotated=$data/$(basename "$plain" .log)-rotated
if [ ! -s "$rotated/access.log.1.gz" ]; then
    rm -rf "$rotated.partial"
    mkdir "$rotated.partial"
    split -n l/4 -d "$plain" "$rotated.partial/part."
    number=4
    for part in "$rotated.partial"/part.0*; do
        pigz -6 -c "$part" > "$rotated.partial/access.log.$number.gz"
        rm "$part"
        number=$((number - 1))
    done
    rm -rf "$rotated"
    mv "$rotated.partial" "$rotated"
fi

# many sites over a month, for memory: the detectors' history and the spilled runs grow with
# sites and span, not with the sample's size (150 vhosts, 30 days, about 6.5 M lines)
# (not with LOGSURGE_BENCH_SAMPLE, whose runs are trials)
many=$data/many-sites-30d.log
many_lines=0
many_bytes=0
if [ -z "${LOGSURGE_BENCH_SAMPLE:-}" ]; then
    if [ ! -s "$many" ]; then
        echo "generating $many (150 sites, 30 days; once)…" >&2
        "$bin" generate --days 30 --rate 300 --seed 21 --format vhost_combined --output - \
            | awk '{ $1 = "site" (NR % 150) ".example:443"; print }' > "$many.partial"
        mv "$many.partial" "$many"
    fi
    many_lines=$(wc -l < "$many")
    many_bytes=$(stat -c %s "$many")
fi

# the same requests as nginx main behind Cloudflare and as JSON lines (nginx escape=json
# template), for the formats' rows: the same days, rate and seed as the sample
format_days=${LOGSURGE_BENCH_FORMAT_DAYS:-7}
main_sample=$data/main-cdn-${format_days}d.log
json_sample=$data/json-${format_days}d.log
if [ -z "${LOGSURGE_BENCH_SAMPLE:-}" ] || [ -n "${LOGSURGE_BENCH_FORMAT_DAYS:-}" ]; then
    for format in main json; do
        file=$data/$([ $format = main ] && echo main-cdn || echo json)-${format_days}d.log
        if [ ! -s "$file" ]; then
            echo "generating $file (once)…" >&2
            behind=$([ $format = main ] && echo cdn || echo none)
            "$bin" generate --days "$format_days" --rate 1100 --seed 2016 --format $format --behind "$behind" --output "$file.partial"
            mv "$file.partial" "$file"
        fi
    done
fi
apache_combined='%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"'

# shapes of real servers (not with LOGSURGE_BENCH_SAMPLE): 50 vhosts over a month and over a
# year, about 2.1 M lines each (a modest multi-site server's archive), and a real-shaped corpus
# of 2 M lines; each beside as many lines of the one-site sample (`head` of it), whose lines/s
# it is compared with
shape_month=$data/many50-30d.log
shape_year=$data/many50-365d.log
shape_real=$data/real-shaped-2M.log
if [ "$shapes" = yes ] && [ -z "${LOGSURGE_BENCH_SAMPLE:-}" ]; then
    for spec in "$shape_month:30:100" "$shape_year:365:8.5"; do
        IFS=: read -r file days rate <<< "$spec"
        if [ ! -s "$file" ]; then
            echo "generating $file (50 sites, $days days; once)…" >&2
            "$bin" generate --days "$days" --rate "$rate" --seed 5 --format vhost_combined --output - \
                | awk '{ $1 = "site" (NR % 50) ".example:443"; print }' > "$file.partial"
            mv "$file.partial" "$file"
        fi
    done
    if [ ! -s "$shape_real" ]; then
        echo "writing $shape_real (Benchmarks/real-shaped.py; once)…" >&2
        python3 Benchmarks/real-shaped.py 2000000 2016 > "$shape_real.partial"
        mv "$shape_real.partial" "$shape_real"
    fi
    for file in "$shape_month" "$shape_year" "$shape_real"; do
        count=$(wc -l < "$file")
        slice_of=$data/$(basename "$plain" .log)-$count.log
        if [ ! -s "$slice_of" ]; then
            head -n "$count" "$plain" > "$slice_of.partial"
            mv "$slice_of.partial" "$slice_of"
        fi
    done
else
    shapes=no
fi
# one_like FILE: the one-site slice of as many lines as FILE
one_like() { echo "$data/$(basename "$plain" .log)-$(wc -l < "$1").log"; }

# --- what this binary offers, and the sample's size as logsurge counts it
analyze_help=$("$bin" analyze --help)
zlib_option=()
isal=no
isal_note="n/a: this logsurge has no --inflate"
if [[ $analyze_help == *--inflate* ]]; then
    zlib_option=(--inflate zlib)
    # a binary built before libisal-dev was installed refuses --inflate isal (a usage error)
    if "$bin" --quiet --buckets /dev/null --inflate isal --summary "$work/isal.json" "$sample" 2>"$work/isal.err" &&
        grep -q '"inflate":"isal"' "$work/isal.json"; then
        isal=yes
    else
        isal_note="n/a: --inflate isal did not use ISA-L ($(head -c 200 "$work/isal.err"; grep -o '"inflate":"[a-z]*"' "$work/isal.json" 2>/dev/null || true))"
    fi
fi
"$bin" --quiet --buckets /dev/null "${zlib_option[@]}" --summary "$work/zlib.json" "$sample"
summary_number() { grep -o "\"$1\":[0-9]*" "$work/zlib.json" | head -n 1 | cut -d: -f2; }
lines=$(summary_number lines)
plain_bytes=$(summary_number bytes_decompressed)
gz_bytes=$(stat -c %s "$sample")
slice_lines=$(wc -l < "$slice")
slice_bytes=$(stat -c %s "$slice")
threads=$(nproc)
many_threads=$((threads > 2 ? threads : 4))
load=$(cut -d' ' -f1 /proc/loadavg)
commit=$(git describe --always --dirty 2>/dev/null || echo none)

# --- timed runs, round-robin
# shellcheck disable=SC2016 # mawk's own fields
mawk_program='{ n[substr($4, 2, 17) " " substr($9, 1, 1)]++ } END { for (k in n) print k, n[k] }'
# shellcheck disable=SC2016 # the arguments of bash -c
zcat_mawk='set -o pipefail; zcat "$1" | mawk "$2"'

# time_run NAME COMMAND...: one run, output discarded; appends "seconds peak_KiB" to $work/NAME.times
time_run() {
    local name=$1
    shift
    if ! /usr/bin/time -f "%e %M" -o "$work/$name.one" "$@" >/dev/null 2>"$work/$name.err" </dev/null; then
        echo "failed: $*" >&2
        cat "$work/$name.err" "$work/$name.one" >&2
        exit 1
    fi
    cat "$work/$name.one" >> "$work/$name.times"
}

# warm FILE...: reads the files once, untimed, so that a timed run reads them from the page
# cache: the samples together pass 7 GB, and a run timed just after another sample evicted part
# of its file measured the disk (a JSON run took 12.8 s cold and 2.3 s warm).
warm() { cat "$@" >/dev/null; }

run() {
    case $1 in
        wc | plain | threads1 | threads2 | threadsN | format_template) warm "$plain" ;;
        format_main) warm "$main_sample" ;;
        format_json) warm "$json_sample" ;;
        many) warm "$many" ;;
        goaccess) warm "$slice" ;;
        rotated) warm "$rotated"/* ;;
        month1 | month2) warm "$shape_month" ;;
        year1 | year2) warm "$shape_year" ;;
        real) warm "$shape_real" ;;
        one_month) warm "$(one_like "$shape_month")" ;;
        one_year) warm "$(one_like "$shape_year")" ;;
        one_real) warm "$(one_like "$shape_real")" ;;
        *) warm "$sample" ;;
    esac
    case $1 in
        pigz) time_run pigz pigz -dc "$sample" ;;
        gz_zlib) time_run gz_zlib "$bin" --quiet --buckets /dev/null "${zlib_option[@]}" "$sample" ;;
        igzip) time_run igzip igzip -dc "$sample" ;;
        gz_isal) time_run gz_isal "$bin" --quiet --buckets /dev/null --inflate isal "$sample" ;;
        rotated) time_run rotated "$bin" --quiet --buckets /dev/null "${zlib_option[@]}" "$rotated" ;;
        mawk) time_run mawk bash -c "$zcat_mawk" zcat-mawk "$sample" "$mawk_program" ;;
        wc) time_run wc wc -l "$plain" ;;
        plain) time_run plain "$bin" --quiet --buckets /dev/null "$plain" ;;
        threads1) time_run threads1 "$bin" --quiet --buckets /dev/null --threads 1 "$plain" ;;
        threads2) time_run threads2 "$bin" --quiet --buckets /dev/null --threads 2 "$plain" ;;
        threadsN) time_run threadsN "$bin" --quiet --buckets /dev/null --threads "$many_threads" "$plain" ;;
        many) time_run many "$bin" --quiet --buckets /dev/null "$many" ;;
        goaccess) time_run goaccess goaccess "$slice" --log-format=COMBINED --no-global-config --no-progress -o "$work/goaccess.json" ;;
        format_template) time_run format_template "$bin" --quiet --buckets /dev/null --log-format "$apache_combined" "$plain" ;;
        format_main) time_run format_main "$bin" --quiet --buckets /dev/null --format main --real-ip X-Forwarded-For "$main_sample" ;;
        format_json) time_run format_json "$bin" --quiet --buckets /dev/null --format json "$json_sample" ;;
        month1) time_run month1 "$bin" --quiet --buckets /dev/null --threads 1 "$shape_month" ;;
        month2) time_run month2 "$bin" --quiet --buckets /dev/null --threads 2 "$shape_month" ;;
        year1) time_run year1 "$bin" --quiet --buckets /dev/null --threads 1 "$shape_year" ;;
        year2) time_run year2 "$bin" --quiet --buckets /dev/null --threads 2 "$shape_year" ;;
        real) time_run real "$bin" --quiet --buckets /dev/null --threads 2 "$shape_real" ;;
        one_month) time_run one_month "$bin" --quiet --buckets /dev/null --threads 2 "$(one_like "$shape_month")" ;;
        one_year) time_run one_year "$bin" --quiet --buckets /dev/null --threads 2 "$(one_like "$shape_year")" ;;
        one_real) time_run one_real "$bin" --quiet --buckets /dev/null --threads 2 "$(one_like "$shape_real")" ;;
    esac
}
commands=(pigz gz_zlib igzip mawk wc plain threads1 threads2 threadsN rotated goaccess)
if [ "$many_lines" -gt 0 ]; then commands+=(many); fi
format_rows=no
if [ -s "$main_sample" ] && [ -s "$json_sample" ]; then
    commands+=(format_template format_main format_json)
    format_rows=yes
    main_lines=$(wc -l < "$main_sample")
    main_bytes=$(stat -c %s "$main_sample")
    json_lines=$(wc -l < "$json_sample")
    json_bytes=$(stat -c %s "$json_sample")
fi
if [ "$isal" = yes ]; then commands+=(gz_isal); fi
if [ "$shapes" = yes ]; then
    commands+=(month1 month2 one_month real one_real)
    shape_month_lines=$(wc -l < "$shape_month")
    shape_month_bytes=$(stat -c %s "$shape_month")
    shape_year_lines=$(wc -l < "$shape_year")
    shape_year_bytes=$(stat -c %s "$shape_year")
    shape_real_lines=$(wc -l < "$shape_real")
    shape_real_bytes=$(stat -c %s "$shape_real")
fi
for round in $(seq "$runs"); do
    echo "round $round of $runs…" >&2
    for command in "${commands[@]}"; do run "$command"; done
    if [ "$shapes" = yes ]; then for command in year1 year2 one_year; do run "$command"; done; fi
done

# --- thread scaling: 1 and 2 threads back to back, in alternating order, 2 × RUNS + 1 pairs.
# The ratio of each pair is taken over a second or two, so a neighbour's load that comes and
# goes over the minutes of the round-robin rounds slows both of a pair alike; the target is the
# median of the pairs' ratios.
pairs=$((2 * runs + 1))
echo "thread scaling: $pairs pairs…" >&2
warm "$plain"
for pair in $(seq "$pairs"); do
    if [ $((pair % 2)) -eq 1 ]; then order=(1 2); else order=(2 1); fi
    for threads_now in "${order[@]}"; do
        time_run "pair$threads_now" "$bin" --quiet --buckets /dev/null --threads "$threads_now" "$plain"
    done
done
# One "1-thread seconds / 2-thread seconds" ratio per pair, then their median
scaling=$(paste -d' ' <(cut -d' ' -f1 "$work/pair1.times") <(cut -d' ' -f1 "$work/pair2.times") \
    | awk '{ printf "%.4f\n", $1 / ($2 > 0 ? $2 : 0.01) }' | sort -n \
    | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), a[1], a[NR] }')

# --- report
# row KEY LABEL LINES BYTES: KEY, LABEL, median s, peak KiB, LINES, BYTES tab-separated; n/a when KEY never ran
row() {
    if [ -s "$work/$1.times" ]; then
        local median peak
        median=$(cut -d' ' -f1 "$work/$1.times" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }')
        peak=$(cut -d' ' -f2 "$work/$1.times" | sort -n | tail -n 1)
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$median" "$peak" "$3" "$4"
    else
        printf '%s\t%s\tn/a\tn/a\t%s\t%s\n' "$1" "$2" "$3" "$4"
    fi
}
zlib_label="logsurge --quiet --buckets /dev/null --inflate zlib FILE.gz"
if [ ${#zlib_option[@]} -eq 0 ]; then zlib_label="logsurge --quiet --buckets /dev/null FILE.gz (zlib; no --inflate)"; fi
rows=$(
    row pigz "pigz -dc FILE.gz > /dev/null" "$lines" "$plain_bytes"
    row gz_zlib "$zlib_label" "$lines" "$plain_bytes"
    row igzip "igzip -dc FILE.gz > /dev/null" "$lines" "$plain_bytes"
    row gz_isal "logsurge --quiet --buckets /dev/null --inflate isal FILE.gz" "$lines" "$plain_bytes"
    row rotated "logsurge ... ${zlib_option[*]} DIR (the same lines as 4 rotated .gz archives)" "$lines" "$plain_bytes"
    row mawk "zcat FILE.gz \\| mawk (requests per minute × status class)" "$lines" "$plain_bytes"
    row wc "wc -l FILE" "$lines" "$plain_bytes"
    row plain "logsurge --quiet --buckets /dev/null FILE ($threads threads)" "$lines" "$plain_bytes"
    row threads1 "logsurge ... --threads 1 FILE" "$lines" "$plain_bytes"
    row threads2 "logsurge ... --threads 2 FILE" "$lines" "$plain_bytes"
    row threadsN "logsurge ... --threads $many_threads FILE" "$lines" "$plain_bytes"
    row many "logsurge ... MANY (150 vhosts over 30 days, for memory)" "$many_lines" "$many_bytes"
    row goaccess "goaccess SLICE --log-format=COMBINED -o SLICE.json ($slice_lines lines)" "$slice_lines" "$slice_bytes"
    if [ "$format_rows" = yes ]; then
        row format_template "logsurge ... --log-format 'Apache combined' FILE" "$lines" "$plain_bytes"
        row format_main "logsurge ... --format main --real-ip X-Forwarded-For MAIN (the requests behind Cloudflare)" "$main_lines" "$main_bytes"
        row format_json "logsurge ... --format json JSON (the requests as nginx escape=json lines)" "$json_lines" "$json_bytes"
    fi
    if [ "$shapes" = yes ]; then
        row month1 "logsurge ... --threads 1 MONTH (50 vhosts over 30 days)" "$shape_month_lines" "$shape_month_bytes"
        row month2 "logsurge ... --threads 2 MONTH" "$shape_month_lines" "$shape_month_bytes"
        row one_month "logsurge ... --threads 2, as many lines of FILE as MONTH" "$shape_month_lines" "$(stat -c %s "$(one_like "$shape_month")")"
        row year1 "logsurge ... --threads 1 YEAR (50 vhosts over 365 days)" "$shape_year_lines" "$shape_year_bytes"
        row year2 "logsurge ... --threads 2 YEAR" "$shape_year_lines" "$shape_year_bytes"
        row one_year "logsurge ... --threads 2, as many lines of FILE as YEAR" "$shape_year_lines" "$(stat -c %s "$(one_like "$shape_year")")"
        row real "logsurge ... --threads 2 REAL (real-shaped.py: Zipf clients, 5 % IPv6, long agents, crawlers)" "$shape_real_lines" "$shape_real_bytes"
        row one_real "logsurge ... --threads 2, as many lines of FILE as REAL" "$shape_real_lines" "$(stat -c %s "$(one_like "$shape_real")")"
    fi
)
report=$(echo "$rows" | awk -F'\t' -v runs="$runs" -v gz="$gz_bytes" -v isal_note="$isal_note" -v scaling="$scaling" -v pairs="$pairs" '
    # GNU time reports hundredths: a faster run counts as 0.01 s
    { label[$1] = $2; t[$1] = $3 == "n/a" || $3 >= 0.01 ? $3 : 0.01; peak[$1] = $4; n[$1] = $5; b[$1] = $6; order[NR] = $1 }
    function mark(ok) { if (!ok) missed++; return ok ? "ok" : "MISSED" }
    function ratio(name, value, aim, ok) { printf "| %s | %.2f | %s | %s |\n", name, value, aim, mark(ok) }
    END {
        printf "sample: %d lines, %.0f MB plain, %.0f MB gzip; medians of %d runs, round-robin\n\n", n["wc"], b["wc"] / 1e6, gz / 1e6, runs
        print "| command | wall s | lines/s | plain MB/s | peak MB |"
        print "|---|---|---|---|---|"
        for (i = 1; i <= NR; i++) {
            k = order[i]
            if (t[k] == "n/a") { printf "| %s | %s | | | |\n", label[k], isal_note; continue }
            printf "| %s | %.2f | %.2f M | %.0f | %.1f |\n", label[k], t[k], n[k] / t[k] / 1e6, b[k] / t[k] / 1e6, peak[k] / 1024
            if (label[k] ~ /^logsurge/ && peak[k] > logsurge_peak) logsurge_peak = peak[k]
        }
        print ""
        print "| target | measured | aim | |"
        print "|---|---|---|---|"
        ratio("gzip, zlib: logsurge / pigz -dc (wall)", t["gz_zlib"] / t["pigz"], "<= 1.0", t["gz_zlib"] <= 1.0 * t["pigz"])
        if (t["gz_isal"] == "n/a") {
            printf "| gzip, ISA-L: logsurge / igzip -dc (wall) | n/a | <= 1.5 | %s |\n", isal_note
        } else {
            ratio("gzip, ISA-L: logsurge / igzip -dc (wall)", t["gz_isal"] / t["igzip"], "<= 1.5", t["gz_isal"] <= 1.5 * t["igzip"])
        }
        ratio("plain: logsurge / wc -l (wall)", t["plain"] / t["wc"], "<= 2.5", t["plain"] <= 2.5 * t["wc"])
        printf "| peak memory, every logsurge run | %.1f MB | <= 100 MB | %s |\n", logsurge_peak / 1024, mark(logsurge_peak <= 100 * 1024)
        split(scaling, pair, " ")
        ratio("plain: 2 threads / 1 thread (throughput), median of " pairs " back-to-back pairs", pair[1], ">= 1.8", pair[1] >= 1.8)
        g = (n["plain"] / t["plain"]) / (n["goaccess"] / t["goaccess"])
        ratio("per line: logsurge on FILE / GoAccess on SLICE (lines/s)", g, ">= 30", g >= 30)
        ratio("gzip: zcat \\| mawk / logsurge, zlib (wall)", t["mawk"] / t["gz_zlib"], ">= 2", t["mawk"] >= 2 * t["gz_zlib"])
        if (t["format_template"] != "" && t["format_template"] != "n/a") {
            # End to end, beside the run of the built-in combined parser on the same machine
            # (the parse-only ratios are the formats rows of StageBenchmark)
            p = n["plain"] / t["plain"]
            ratio("formats: --log-format equal to combined / built-in combined (lines/s)", (n["format_template"] / t["format_template"]) / p, ">= 0.90", (n["format_template"] / t["format_template"]) >= 0.9 * p)
            ratio("formats: main with --real-ip / built-in combined (lines/s)", (n["format_main"] / t["format_main"]) / p, ">= 0.80", (n["format_main"] / t["format_main"]) >= 0.8 * p)
            q = b["plain"] / t["plain"]
            ratio("formats: json / built-in combined (MB/s)", (b["format_json"] / t["format_json"]) / q, ">= 0.50", (b["format_json"] / t["format_json"]) >= 0.5 * q)
        }
        if (t["month2"] != "" && t["month2"] != "n/a") {
            # lines/s of a shape over lines/s of as many lines of the one-site sample (2 threads)
            ratio("many sites, month: lines/s / the one-site sample'"'"'s", t["one_month"] / t["month2"], ">= 0.7", t["one_month"] >= 0.7 * t["month2"])
            ratio("many sites, year: lines/s / the one-site sample'"'"'s", t["one_year"] / t["year2"], ">= 0.7", t["one_year"] >= 0.7 * t["year2"])
            ratio("many sites, month: 2 threads / 1 thread (throughput)", t["month1"] / t["month2"], ">= 1.7", t["month1"] >= 1.7 * t["month2"])
            ratio("many sites, year: 2 threads / 1 thread (throughput)", t["year1"] / t["year2"], ">= 1.7", t["year1"] >= 1.7 * t["year2"])
            printf "\nnot a target: real-shaped corpus lines/s / the one-site sample'"'"'s: %.2f\n", t["one_real"] / t["real"]
        }
        printf "\nnot targets: 4 rotated archives / the one archive, zlib (wall): %.2f; 2 threads / 1 thread from the rows'"'"' medians: %.2f (pairs ranged %.2f to %.2f)\n", t["rotated"] / t["gz_zlib"], t["threads1"] / t["threads2"], pair[2], pair[3]
        printf "\ntargets missed: %d\n", missed
    }')
echo "$report"

stage_report=""
if [ "$stages" = yes ]; then
    echo "stage benchmark…" >&2
    stage_report=$("$bin_dir/StageBenchmark" "$plain" "$sample")
    printf '\n%s\n' "$stage_report"
fi

if [ "$lines" -lt 5000000 ] || [ "$plain_bytes" -lt 1000000000 ]; then
    echo "not appended to Benchmarks/RESULTS.md: the sample is under 5 M lines or 1 GB plain" >&2
    exit 0
fi
cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//' || true)
memory=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
{
    echo
    echo "## $(date -u +%Y-%m-%d) throughput.sh: $threads cores, $memory, ${cpu:-$(uname -m)}"
    echo "logsurge $("$bin" --version | head -n 1 | cut -d' ' -f2), commit $commit; load average $load before the runs"
    echo
    echo "$report"
    if [ -n "$stage_report" ]; then printf '\n%s\n' "$stage_report"; fi
} >> Benchmarks/RESULTS.md
echo "appended to Benchmarks/RESULTS.md" >&2
