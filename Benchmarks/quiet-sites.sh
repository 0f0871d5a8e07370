#!/usr/bin/env bash
# Quiet sites: what the detectors find at sites of about one request a minute and of one every
# five minutes, checked at their own longer steps (files) and a minute at a time (the same
# lines piped in, which a stream checks a minute at a time). Twenty vhosts share one generated
# log of 14 days (its lines dealt out in turn), with a US crowd x10 for two hours on day 11 and
# a 5xx spike of 35 % for an hour on day 13: every site has both. An alert counts as finding
# its event when it is of the event's kind and raised from the event's first minute (its ramp
# included) to 10 minutes after its last; every other alert is false. Appends a dated table to
# Benchmarks/DETECTION.md.
#
#   Benchmarks/quiet-sites.sh [SEEDS]      (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-2}
swift build -c release --product logsurge >/dev/null
bin=$(swift build -c release --show-bin-path)/logsurge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rows=()
for rate in 40 8; do
    for seed in $(seq 1 "$seeds"); do
        log=$work/r$rate-s$seed.log
        "$bin" generate --days 14 --rate "$rate" --seed "$seed" --format vhost_combined \
            --event surge:US:10:2016-11-11T15:00Z:120:15 --event errors:0.35:2016-11-13T03:00Z:60 --output - \
            | awk '{ $1 = "site" (NR % 20) ".example:443"; print }' > "$log"
        "$bin" --quiet --buckets /dev/null --summary "$log.summary" --alerts "$log.file.jsonl" "$log"
        "$bin" --quiet --buckets /dev/null --alerts "$log.pipe.jsonl" < "$log"
        rows+=("$rate" "$seed" "$log")
    done
done

result=$(python3 - "${rows[@]}" <<'EOF'
import json, sys
from datetime import datetime, timedelta
def t(s): return datetime.strptime(s, '%Y-%m-%dT%H:%MZ')
# Each event's first minute (ramp included) to 10 minutes after its last.
events = {'surge': (t('2016-11-11T14:45Z'), t('2016-11-11T17:15Z') + timedelta(minutes=10)),
          'error_spike': (t('2016-11-13T03:00Z'), t('2016-11-13T04:00Z') + timedelta(minutes=10))}
args = sys.argv[1:]
cells = {}
notes = []
for index in range(0, len(args), 3):
    rate, seed, log = args[index:index + 3]
    summary = json.load(open(log + '.summary'))
    lines = sum(1 for _ in open(log))
    per_minute = lines / 20 / (14 * 1440)
    steps = ', '.join(f"{s['sites']} at {s['step_minutes']} min" for s in summary['sites_by_step']) or 'all at 1 min'
    for way in ('file', 'pipe'):
        cell = cells.setdefault((rate, way), {'rate': 0, 'steps': steps, 'found': {'surge': set(), 'error_spike': set()},
                                             'delays': {'surge': [], 'error_spike': []}, 'false': 0, 'sites': 0})
        cell['rate'] += per_minute / (len(args) // 3 // 2)
        cell['sites'] += 20
        for line in open(f'{log}.{way}.jsonl'):
            alert = json.loads(line)
            if alert['state'] != 'open':
                continue
            window = events.get(alert['kind'])
            raised = t(alert['raised_at'])
            key = (seed, alert['site'])
            if window and window[0] <= raised <= window[1] and key not in cell['found'][alert['kind']]:
                cell['found'][alert['kind']].add(key)
                cell['delays'][alert['kind']].append(int((raised - window[0]).total_seconds() // 60))
            else:
                cell['false'] += 1
                notes.append(f"- false ({way}, --rate {rate}, seed {seed}): {alert['kind']} {alert['site']} "
                             f"{alert['start']} raised {alert['raised_at']}")
print('| requests a minute a site | read as | steps | crowds found | crowd delay median min | 5xx spikes found | 5xx delay median min | false alerts |')
print('|---|---|---|---|---|---|---|---|')
for (rate, way), cell in cells.items():
    def median(values):
        values = sorted(values)
        return str(values[len(values) // 2]) if values else '-'
    print(f"| {cell['rate']:.2f} | {way} | {cell['steps'] if way == 'file' else 'all at 1 min'} "
          f"| {len(cell['found']['surge'])} of {cell['sites']} | {median(cell['delays']['surge'])} "
          f"| {len(cell['found']['error_spike'])} of {cell['sites']} | {median(cell['delays']['error_spike'])} | {cell['false']} |")
if notes:
    print()
    print('\n'.join(notes))
EOF
)
echo "$result"
{
    echo
    echo "## $(date -u +%Y-%m-%d) quiet-sites.sh, $seeds seeds, commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
    echo
    echo "Twenty vhosts of one generated log, 14 days, a US crowd x10 for two hours and a 5xx spike of"
    echo "35 % for an hour at every site; files (each site at its own step) against the same lines piped"
    echo "in (a minute at a time). Delays from the event's first minute, its 15-minute ramp included."
    echo
    echo "$result"
} >> Benchmarks/DETECTION.md
