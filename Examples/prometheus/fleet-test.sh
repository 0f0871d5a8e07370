#!/usr/bin/env bash
# The fleet example end to end, on loopback: two "web servers" each run logsurge on their own
# generated log with --metrics into their own node_exporter textfile directory; two
# node_exporters serve those directories; a Prometheus server loads prometheus.yml (its targets
# pointed at the two node_exporters, scraping every second) and logsurge.rules.yml. Then, through
# the HTTP API, the fleet-wide sums recorded by the rules must equal what the two logsurge runs
# counted (their buckets and summaries), and every rule must load and evaluate.
#
# Needs: prometheus, promtool, prometheus-node-exporter (or node_exporter), curl, jq
# (Debian: apt-get install prometheus prometheus-node-exporter curl jq), and logsurge: $LOGSURGE,
# else `swift build` here. Ports are free ones picked at random, files go to a temporary
# directory, and every process started is stopped on exit. Exit status 0 only when every check
# passes. Takes about 10 seconds after the build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "fleet-test: $1 is missing (Debian: apt-get install $2)" >&2; exit 2; }
}
need prometheus prometheus
need promtool prometheus
need curl curl
need jq jq
node_exporter="$(command -v prometheus-node-exporter || command -v node_exporter || true)"
[ -n "$node_exporter" ] || { echo "fleet-test: node_exporter is missing (Debian: apt-get install prometheus-node-exporter)" >&2; exit 2; }
if [ -z "${LOGSURGE:-}" ]; then
    (cd "$root" && swift build --product logsurge >/dev/null)
    LOGSURGE="$root/.build/debug/logsurge"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/logsurge-fleet.XXXXXX")"
pids=()
cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$status" -ne 0 ] && [ -d "$work" ]; then
        for log in "$work"/*.log.txt; do [ -f "$log" ] && { echo "--- $(basename "$log")"; tail -n 20 "$log"; } >&2; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

checks=0
check() {   # check DESCRIPTION COMMAND...: counts a passed check, ends the script on a failed one
    local what="$1"
    shift
    if "$@"; then
        checks=$((checks + 1))
        echo "ok   $what"
    else
        echo "FAIL $what" >&2
        exit 1
    fi
}

# A free port on loopback: a random one nothing answers on (and not taken by this script).
taken=" "
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        case "$taken" in *" $port "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            taken="$taken$port "
            echo "$port"
            return 0
        fi
    done
    echo "fleet-test: no free port found" >&2
    return 1
}

# Waits up to 60 s for COMMAND to succeed.
eventually() {
    for _ in $(seq 1 300); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

# Two servers of one site, with different traffic; web1 sees a US surge at 22:00Z. web2 logs
# without a virtual host (combined) and carves a section out under a hostile name: quote and
# backslash must survive the textfile collector, the scrape, the rules and the API.
site="www.immigration.example"
hostile='quote"back\slash'
"$LOGSURGE" generate --start 2016-11-08T20:00Z --minutes 180 --rate 200 --seed 1 --format vhost_combined \
    --event surge:US:8:2016-11-08T22:00Z:30 --output "$work/web1.access"
"$LOGSURGE" generate --start 2016-11-08T20:00Z --minutes 180 --rate 120 --seed 2 --output "$work/web2.access"
for server in web1 web2; do
    mkdir -p "$work/$server/textfile"
    # --metrics-countries 50: every country its own label, so the sums can be checked per country.
    "$LOGSURGE" --quiet --site "$site" --section "$hostile=/en/immigration-refugees-citizenship/services/" \
        --metrics "$work/$server/textfile/logsurge.prom" --metrics-countries 50 \
        --buckets "$work/$server.jsonl" --summary "$work/$server.json" "$work/$server.access"
done
check "each textfile directory holds logsurge.prom and no temporary file" \
    test "$(ls -A "$work/web1/textfile") $(ls -A "$work/web2/textfile")" = "logsurge.prom logsurge.prom"
check "promtool check metrics accepts both files" \
    sh -c "promtool check metrics < '$work/web1/textfile/logsurge.prom' && promtool check metrics < '$work/web2/textfile/logsurge.prom'"

node1="$(free_port)"
node2="$(free_port)"
prom="$(free_port)"
for server in web1 web2; do
    port="$node1"
    [ "$server" = web2 ] && port="$node2"
    "$node_exporter" --web.listen-address="127.0.0.1:$port" --collector.disable-defaults --collector.textfile \
        --collector.textfile.directory="$work/$server/textfile" >"$work/node-$server.log.txt" 2>&1 &
    pids+=($!)
done

# The example's configuration, its targets pointed at the two node_exporters, scraping every second.
sed -e "s/web1.example.org:9100/127.0.0.1:$node1/" -e "s/web2.example.org:9100/127.0.0.1:$node2/" \
    -e "s/scrape_interval: 15s/scrape_interval: 1s/" -e "s/evaluation_interval: 15s/evaluation_interval: 1s/" \
    "$here/prometheus.yml" >"$work/prometheus.yml"
cp "$here/logsurge.rules.yml" "$work/"
check "promtool check config accepts the configuration" promtool check config "$work/prometheus.yml" >/dev/null
check "promtool test rules passes the rules' unit tests" promtool test rules "$here/logsurge.rules.test.yml" >/dev/null
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$prom" >"$work/prometheus.log.txt" 2>&1 &
pids+=($!)

api="http://127.0.0.1:$prom/api/v1"
query() { curl -fsS --get "$api/query" --data-urlencode "query=$1"; }
value() { query "$1" | jq -r '.data.result[0].value[1] // "none"'; }
# Whether the query's first value is (is_value) or is not (isnt_value) the one given.
is_value() { test "$(value "$1" 2>/dev/null)" = "$2"; }
isnt_value() { test "$(value "$1" 2>/dev/null)" != "$2"; }
ready() { curl -fsS "http://127.0.0.1:$prom/-/ready" -o /dev/null 2>/dev/null; }

check "Prometheus is ready" eventually ready
check "both node_exporters are scraped" eventually is_value 'sum(up{job="node"})' 2
check "both logsurge files are in the scrapes" eventually is_value 'count(count by (instance) (logsurge_requests_total))' 2
check "the rules have recorded the fleet's totals" eventually isnt_value 'count(site_country:logsurge_requests_total:sum)' none

# Each instance's requests are what its logsurge parsed.
for server in web1 web2; do
    port="$node1"
    [ "$server" = web2 ] && port="$node2"
    parsed="$(jq .parsed "$work/$server.json")"
    check "$server: requests_total sums to the $parsed lines its logsurge parsed" \
        eventually is_value "sum(logsurge_requests_total{instance=\"127.0.0.1:$port\"})" "$parsed"
done

# The fleet: the recorded sum per site and country equals the two servers' buckets added up.
# (A rule evaluated between the two first scrapes saw one server: the checks wait for the next.)
expected="$(jq -n -S '[inputs] | group_by([.site, .country])
    | map({key: (.[0].site + "|" + .[0].country), value: (map(.requests) | add)}) | from_entries' \
    "$work/web1.jsonl" "$work/web2.jsonl")"
recorded() {
    query 'site_country:logsurge_requests_total:sum != 0' | jq -S '.data.result
        | map({key: (.metric.site + "|" + .metric.country), value: (.value[1] | tonumber)}) | from_entries'
}
fleet_matches() { test "$(recorded 2>/dev/null)" = "$expected"; }
check "the recorded fleet-wide sum per site and country equals the two servers' counts ($(echo "$expected" | jq length) series)" \
    eventually fleet_matches
check "the hostile site name came through whole" \
    test "$(recorded | jq --arg key "$hostile|US" 'has($key)')" = true
total=$(( $(jq .parsed "$work/web1.json") + $(jq .parsed "$work/web2.json") ))
check "the fleet's total is the sum of both runs' parsed lines ($total)" \
    eventually is_value 'sum(site_country:logsurge_requests_total:sum)' "$total"
check "the fleet-wide rates are recorded per site and country" \
    eventually is_value 'count(site_country:logsurge_requests:rate5m)' "$(value 'count(site_country:logsurge_requests_total:sum)')"
check "web1's logsurge raised the US surge (logsurge_alerts_total)" \
    test "$(value "logsurge_alerts_total{instance=\"127.0.0.1:$node1\",kind=\"surge\"}")" -ge 1

# Every rule loaded and evaluates without error.
rules_healthy() {
    curl -fsS "$api/rules" | jq -e '[.data.groups[].rules[]] | length == 7 and all(.health == "ok")' >/dev/null
}
check "all 7 rules loaded and evaluate with health ok" eventually rules_healthy
check "the rules are the example's" test "$(curl -fsS "$api/rules" | jq -c '[.data.groups[].rules[].name] | sort')" = \
    '["LogsurgeEpisodeActive","LogsurgeFleet5xxShare","LogsurgeFleetSurgeUS","site:logsurge_requests:rate5m","site:logsurge_requests_5xx:ratio_rate5m","site_country:logsurge_requests:rate5m","site_country:logsurge_requests_total:sum"]'

echo "fleet-test: all $checks checks passed in ${SECONDS}s"
