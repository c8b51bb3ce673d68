#!/usr/bin/env bash
# `make bench`: issue 12's table. Each row puts Cutover's figure beside nginx `return 200`'s in the
# same run, over BENCH_ROUNDS interleaved rounds (nginx, cutover, nginx, ...), medians shown, with
# CPU µs per request of both (utime+stime from /proc/PID/stat: the figure noise moves least).
# Cutover, nginx and the delivery sink on core 0, the load generators on core 1.
#
#   distinct   BENCH_EVENTS pre-signed bodies (a new message id each, 1000 contacts, minified), each
#              once over BENCH_CONNECTIONS keep-alive connections (scripts/bench-latency's client,
#              unpaced), every event delivered to a local sink (a second nginx `return 200`, cloud):
#              events/s until the last delivery is recorded (cutover_deliveries_total on /metrics)
#   retries    the same bodies again, all committed by then (Meta's retries), for BENCH_DURATION s
#   healthz    GET /healthz for BENCH_DURATION s
#   latency    new signed events at half of Cutover's distinct rate, paced (scripts/bench-latency)
#   rss        retries paced at BENCH_RSS_RATE req/s (default 10000): VmRSS at the end, VmHWM
#   h1/h2/TLS  scripts/bench-h2.sh (h2load, the server alone), mallocs: scripts/bench-ingest.sh
# Environment: BENCH_ROUNDS (3), BENCH_DURATION (5), BENCH_EVENTS (20000), BENCH_CONNECTIONS (64),
# BENCH_LATENCY_SECONDS (5), BENCH_RSS_RATE (10000), BENCH_SKIP (words of: h2 mallocs).
source "$(dirname "$0")/bench-common.sh"

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-5}
EVENTS=${BENCH_EVENTS:-20000}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-5}
RSS_RATE=${BENCH_RSS_RATE:-10000}
SKIP=${BENCH_SKIP:-}
SECRET=bench-secret
[ -x "$CUTOVER_RELEASE_BINARY" ] || { echo "no release build at $CUTOVER_RELEASE_BINARY (make release)" >&2; exit 1; }
results=$work/results.tsv
: > "$results"
lua=scripts/bench-e2e/signed-bodies.lua
build_c paced-client scripts/bench-latency/paced-client.c

# record ROW SERVER VALUE CPU_US_PER_REQUEST [CONTEXT_SWITCHES_PER_REQUEST SYSCALLS_PER_REQUEST]
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:--}" "${6:--}" >> "$results"; }
now() { date +%s.%N; }
seconds_between() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$2"; }

# delivered PORT: deliveries recorded as delivered so far, from /metrics.
delivered() {
    curl -s "http://127.0.0.1:$1/metrics" | awk '/^cutover_deliveries_total\{/ && /outcome="delivered"/ {n += $NF} END {printf "%d\n", n}'
}
# wait_delivered PORT COUNT: until COUNT deliveries are recorded (5 min at most).
wait_delivered() {
    local deadline=$((SECONDS + 300))
    while [ "$(delivered "$1")" -lt "$2" ]; do
        [ $SECONDS -lt $deadline ] || { echo "only $(delivered "$1") of $2 deliveries recorded" >&2; return 1; }
        sleep 0.02
    done
}

# measure_distinct SERVER PID PORT BODIES: every body once; for cutover until its last delivery.
measure_distinct() {
    local server=$1 pid=$2 port=$3 bodies=$4 cpu0 cs0 started finished syscalls
    cpu0=$(cpu_microseconds "$pid"); cs0=$(context_switches "$pid")
    perf_syscalls_start "$work/perf-distinct.out"
    started=$(now)
    read -r _ _ non2xx _ < <(bench_client "$work/paced-client" "$port" 0 "$EVENTS" "$CONNECTIONS" "$bodies")
    [ "$server" = nginx ] || wait_delivered "$port" "$EVENTS"
    finished=$(now)
    perf_syscalls_stop
    syscalls=$perf_syscalls
    [ "$non2xx" = 0 ] || echo "warning: $server answered $non2xx of the distinct bodies with non-2xx" >&2
    record distinct "$server" "$(python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):.0f}')" "$EVENTS" "$(seconds_between "$started" "$finished")")" \
        "$(per $(( $(cpu_microseconds "$pid") - cpu0 )) "$EVENTS")" "$(per $(( $(context_switches "$pid") - cs0 )) "$EVENTS")" "$(per "$syscalls" "$EVENTS")"
}

# measure_wrk ROW SERVER PID ARGS...: one timed wrk run; req/s and CPU per request.
measure_wrk() {
    local row=$1 server=$2 pid=$3 cpu0 rps requests non2xx; shift 3
    cpu0=$(cpu_microseconds "$pid")
    read -r rps requests non2xx _ _ < <(wrk_run -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@")
    [ "$non2xx" = 0 ] || echo "warning: $row on $server: $non2xx non-2xx answers" >&2
    record "$row" "$server" "$rps" "$(per $(( $(cpu_microseconds "$pid") - cpu0 )) "$requests")"
}

start_nginx reference
reference_pid=$nginx_pid; reference_port=$nginx_port
start_nginx sink
sink_port=$nginx_port

echo "make bench: $ROUNDS interleaved rounds; cutover, nginx and the sink on core $SERVER_CORE, load on core $CLIENT_CORE;" \
    "wrk -t1 -c$CONNECTIONS, ${DURATION}s runs, $EVENTS distinct events per round" >&2
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round of $ROUNDS" >&2
    signed_bodies "$work/bodies-$round.tsv" "$EVENTS" "R$round$$" "$SECRET"
    start_cutover "round$round" --app-secret "$SECRET" --forward "http://127.0.0.1:$sink_port/hook" --format cloud
    measure_distinct nginx "$reference_pid" "$reference_port" "$work/bodies-$round.tsv"
    measure_distinct cutover "$cutover_pid" "$cutover_port" "$work/bodies-$round.tsv"
    for server in nginx cutover; do
        if [ $server = nginx ]; then pid=$reference_pid port=$reference_port; else pid=$cutover_pid port=$cutover_port; fi
        measure_wrk retries $server "$pid" -s "$lua" "http://127.0.0.1:$port/cloud" -- "$work/bodies-$round.tsv"
        measure_wrk healthz $server "$pid" "http://127.0.0.1:$port/healthz"
    done
    stop_process "$cutover_pid"
    rm -rf "$work/spool-round$round"
done

# Latency at half of Cutover's own distinct rate, new events each; then RSS under paced retries.
max_rate=$(awk -F'\t' '$1 == "distinct" && $2 == "cutover" {printf "%s ", $3}' "$results" | median)
half_rate=$((max_rate / 2))
start_cutover latency --app-secret "$SECRET" --forward "http://127.0.0.1:$sink_port/hook" --format cloud
for round in $(seq 1 "$ROUNDS"); do
    signed_bodies "$work/latency-$round.tsv" "$((half_rate * LATENCY_SECONDS))" "L$round$$" "$SECRET"
    for server in nginx cutover; do
        if [ $server = nginx ]; then pid=$reference_pid port=$reference_port; else pid=$cutover_pid port=$cutover_port; fi
        read -r _ completed non2xx p50 p99 _ _ achieved < <(bench_client "$work/paced-client" "$port" "$half_rate" "$LATENCY_SECONDS" "$CONNECTIONS" "$work/latency-$round.tsv")
        [ "$non2xx" = 0 ] || echo "warning: latency on $server: $non2xx non-2xx answers" >&2
        record latency-p50 $server "$p50" -
        record latency-p99 $server "$p99" -
    done
done
for server in nginx cutover; do
    if [ $server = nginx ]; then pid=$reference_pid port=$reference_port; else pid=$cutover_pid port=$cutover_port; fi
    read -r _ completed _ _ _ _ _ achieved < <(bench_client "$work/paced-client" "$port" "$RSS_RATE" "$DURATION" "$CONNECTIONS" "$work/latency-1.tsv")
    record rss-at-rate $server "$(( $(rss_kib "$pid") / 1024 ))" - 
    record rss-peak $server "$(( $(peak_rss_kib "$pid") / 1024 ))" -
    record rss-achieved-rate $server "$achieved" -
done
stop_process "$cutover_pid"

case " $SKIP " in *" h2 "*) ;; *) BENCH_TSV=$results ./scripts/bench-h2.sh >&2 ;; esac
case " $SKIP " in *" mallocs "*) ;; *) BENCH_TSV=$results ./scripts/bench-ingest.sh >&2 ;; esac

python3 - "$results" "$ROUNDS" "$half_rate" "$RSS_RATE" <<'PY'
import statistics, sys
path, rounds, half_rate, rss_rate = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
values = {}
for line in open(path):
    row, server, value, cpu, switches, syscalls = line.rstrip("\n").split("\t")
    values.setdefault((row, server), []).append((value, cpu, switches, syscalls))

def med(row, server, column=0):
    numbers = [float(v[column]) for v in values.get((row, server), []) if v[column] not in ("-", "nan")]
    return statistics.median(numbers) if numbers else None

def fmt(x, digits=0):
    return "-" if x is None else f"{x:.{digits}f}"

def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}x"

print(f"| workload | cutover | nginx | ratio | cutover CPU µs/req | nginx CPU µs/req | goal |")
print("|---|---|---|---|---|---|---|")
def throughput(title, row, goal, unit="/s"):
    c, n = med(row, "cutover"), med(row, "nginx")
    print(f"| {title} | {fmt(c)}{unit} | {fmt(n)}{unit} | {ratio(c, n)} | {fmt(med(row, 'cutover', 1), 1)} | {fmt(med(row, 'nginx', 1), 1)} | {goal} |")
throughput("distinct signed Cloud webhooks, delivered to a local sink (events/s until the last delivery)", "distinct", ">= 0.30x")
throughput("retries of committed ids", "retries", ">= 0.60x")
throughput("GET /healthz", "healthz", ">= 1.0x")
for q in ("p50", "p99"):
    c, n = med(f"latency-{q}", "cutover"), med(f"latency-{q}", "nginx")
    print(f"| {q} acknowledgement of new events at {half_rate}/s (half of Cutover's distinct rate) | {fmt(c, 2)} ms | {fmt(n, 2)} ms | {ratio(c, n)} | | | {'<= 5 ms' if q == 'p99' else ''} |")
c, n = med("rss-at-rate", "cutover"), med("rss-at-rate", "nginx")
print(f"| RSS at {fmt(med('rss-achieved-rate', 'cutover'))} req/s of retries (asked {rss_rate}/s); peak {fmt(med('rss-peak', 'cutover'))} MB | {fmt(c)} MB | {fmt(n)} MB | {ratio(c, n)} | | | < 100 MB |")
for mode, goal in (("h2c -m1", ">= 0.5x"), ("h2c -m10", ">= 0.5x"), ("h2-tls -m1", ">= 0.5x"), ("h2-tls -m10", ">= 0.5x"), ("h1 -m1", ""), ("h1-tls -m1", "")):
    if (mode, "cutover") in values:
        throughput(f"{mode} POST 1.3 KB (h2load, server alone)", mode, goal)
c, p = med("h1-tls -m1", "cutover"), med("h1 -m1", "cutover")
if c and p:
    print(f"| TLS HTTP/1.1 vs plain HTTP/1.1, Cutover | {fmt(c)}/s | plain {fmt(p)}/s | {ratio(c, p)} | | | >= 0.7x |")
for phase in ("new", "duplicate"):
    m = med("mallocs", phase)
    if m is not None:
        print(f"| mallocs per {'new event (with its delivery)' if phase == 'new' else 'retry'} | {fmt(m, 1)} | | | | | {'<= 60' if phase == 'new' else ''} |")
print(f"| distinct row: context switches per event (cutover process) | {fmt(med('distinct', 'cutover', 2), 2)} | {fmt(med('distinct', 'nginx', 2), 2)} | | | | |")
print(f"| distinct row: syscalls per event on core 0 (server + sink) | {fmt(med('distinct', 'cutover', 3), 1)} | {fmt(med('distinct', 'nginx', 3), 1)} | | | | |")
print(f"Medians of {rounds} interleaved rounds. ratio: cutover/nginx in the same run (for latency and RSS: lower is better).")
PY
