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
#   distinct on PostgreSQL, in each round after the SQLite row, the same bodies into a new database
#              of a PostgreSQL the script starts (Debian's postgresql, initdb in the work dir, a
#              loopback port, fsync=on, synchronous_commit=on, also on core 0): one instance, then
#              two instances on one database, each load generator sending every other body over
#              half the connections to its own instance (a load balancer's round robin), one sink.
#              The sink logs each delivery's X-Cutover-Event-Id: the table says how many events
#              arrived once, and warns of any repeat or shortfall. CPU per event: the cutover
#              processes + every postgres process (postmaster, backends, WAL writer, ...).
# Environment: BENCH_ROUNDS (3), BENCH_DURATION (5), BENCH_EVENTS (20000), BENCH_CONNECTIONS (64),
# BENCH_LATENCY_SECONDS (5), BENCH_RSS_RATE (10000), BENCH_SKIP (words of: h2 mallocs pg),
# BENCH_ROWS (all, or distinct: only the distinct rows, nginx, SQLite and PostgreSQL: about 8 minutes
# of the whole run's 20 on a loaded 2-core machine, the PostgreSQL rows taking most).
source "$(dirname "$0")/bench-common.sh"

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-5}
EVENTS=${BENCH_EVENTS:-20000}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-5}
RSS_RATE=${BENCH_RSS_RATE:-10000}
SKIP=${BENCH_SKIP:-}
ROWS=${BENCH_ROWS:-all}
case "$ROWS" in all|distinct) ;; *) echo "BENCH_ROWS: all or distinct, not '$ROWS'" >&2; exit 1 ;; esac
skipped() { case " $SKIP " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
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

# split_bodies BODIES PARTS: BODIES.1 ... BODIES.PARTS, line i in part (i mod PARTS) + 1.
split_bodies() { awk -v parts="$2" -v out="$1" '{print > (out "." (NR - 1) % parts + 1)}' "$1"; }

sink_lines() { wc -l < "$sink_log"; }
# check_delivered_once SERVER LINES_BEFORE: waits (10 s) for the sink's log to show EVENTS deliveries
# after line LINES_BEFORE, then records how many distinct events arrived, repeats and shortfall.
check_delivered_once() {
    local server=$1 before=$2 deadline=$((SECONDS + 10)) once repeats missing
    while [ $(( $(sink_lines) - before )) -lt "$EVENTS" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    read -r once repeats < <(tail -n +"$((before + 1))" "$sink_log" | sort | uniq -c | awk '{distinct++; extra += $1 - 1} END {print distinct + 0, extra + 0}')
    missing=$((EVENTS - once))
    [ "$repeats" = 0 ] && [ "$missing" = 0 ] ||
        echo "warning: distinct on $server: $once of $EVENTS events reached the sink, $repeats repeats, $missing missing" >&2
    record delivered-once "$server" "$once" "$repeats" "$missing"
}

# measure_distinct SERVER "PIDS" "PORTS" BODIES [postgres]: every body once, split over the ports
# (each with its own load generator and its share of the connections); for cutover until its last
# delivery. With postgres, the CPU figure adds every postgres process's and the split is recorded.
measure_distinct() {
    local server=$1 pids=($2) ports=($3) bodies=$4 with_postgres=${5:-} cpu0 pg0=0 pg=0 cs0 started finished syscalls
    local parts=${#ports[@]} part non2xx=0 lines0 cpu switches clients=()
    [ "$parts" = 1 ] || split_bodies "$bodies" "$parts"
    lines0=$(sink_lines)
    cpu0=$(sum_over cpu_microseconds "${pids[@]}"); cs0=$(sum_over context_switches "${pids[@]}")
    [ -z "$with_postgres" ] || pg0=$(postgres_cpu_microseconds)
    perf_syscalls_start "$work/perf-distinct.out"
    started=$(now)
    for part in $(seq 1 "$parts"); do
        local file=$bodies
        [ "$parts" = 1 ] || file=$bodies.$part
        bench_client "$work/paced-client" "${ports[part - 1]}" 0 "$(wc -l < "$file")" "$((CONNECTIONS / parts))" "$file" > "$work/client-$part.out" &
        clients+=($!)
    done
    for part in $(seq 1 "$parts"); do
        wait "${clients[part - 1]}"
        non2xx=$((non2xx + $(awk '{print $3}' "$work/client-$part.out")))
    done
    [ "$server" = nginx ] || wait_delivered "$EVENTS" "${ports[@]}"
    finished=$(now)
    perf_syscalls_stop
    syscalls=$perf_syscalls
    [ "$non2xx" = 0 ] || echo "warning: $server answered $non2xx of the distinct bodies with non-2xx" >&2
    cpu=$(( $(sum_over cpu_microseconds "${pids[@]}") - cpu0 ))
    switches=$(( $(sum_over context_switches "${pids[@]}") - cs0 ))
    if [ -n "$with_postgres" ]; then
        pg=$(( $(postgres_cpu_microseconds) - pg0 ))
        record distinct-cpu-split "$server" "$(per "$cpu" "$EVENTS")" "$(per "$pg" "$EVENTS")"
    fi
    record distinct "$server" "$(python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):.0f}')" "$EVENTS" "$(seconds_between "$started" "$finished")")" \
        "$(per $((cpu + pg)) "$EVENTS")" "$(per "$switches" "$EVENTS")" "$(per "$syscalls" "$EVENTS")"
    [ "$server" = nginx ] || check_delivered_once "$server" "$lines0"
}

# sum_over FIGURE PID...: FIGURE (cpu_microseconds, context_switches) summed over the processes.
sum_over() {
    local figure=$1 pid total=0; shift
    for pid in "$@"; do total=$((total + $($figure "$pid"))); done
    echo "$total"
}

# measure_postgres ROUND INSTANCES BODIES: distinct on INSTANCES cutover processes sharing a new
# database; stopped and the database dropped after.
measure_postgres() {
    local round=$1 instances=$2 bodies=$3 url pids=() ports=() instance
    url=$(postgres_database "bench_r${round}_x$instances")
    for instance in $(seq 1 "$instances"); do
        start_cutover_on "$url" "pg-r$round-x$instances-$instance" --app-secret "$SECRET" \
            --forward "http://127.0.0.1:$sink_port/hook" --format cloud
        pids+=("$cutover_pid"); ports+=("$cutover_port")
    done
    measure_distinct "postgres-$instances" "${pids[*]}" "${ports[*]}" "$bodies" postgres
    for instance in "${pids[@]}"; do stop_process "$instance"; done
    psql -X -q -c "DROP DATABASE bench_r${round}_x$instances" "postgresql://cutover@127.0.0.1:$postgres_port/postgres" >&2
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
sink_log=$work/sink-event-ids.log
: > "$sink_log"
start_nginx sink "$sink_log"
sink_port=$nginx_port
skipped pg || start_postgres

echo "make bench: $ROUNDS interleaved rounds; cutover, nginx, the sink and postgres on core $SERVER_CORE, load on core $CLIENT_CORE;" \
    "wrk -t1 -c$CONNECTIONS, ${DURATION}s runs, $EVENTS distinct events per round" >&2
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round of $ROUNDS" >&2
    signed_bodies "$work/bodies-$round.tsv" "$EVENTS" "R$round$$" "$SECRET"
    start_cutover "round$round" --app-secret "$SECRET" --forward "http://127.0.0.1:$sink_port/hook" --format cloud
    measure_distinct nginx "$reference_pid" "$reference_port" "$work/bodies-$round.tsv"
    measure_distinct cutover "$cutover_pid" "$cutover_port" "$work/bodies-$round.tsv"
    if [ "$ROWS" = all ]; then
        for server in nginx cutover; do
            if [ $server = nginx ]; then pid=$reference_pid port=$reference_port; else pid=$cutover_pid port=$cutover_port; fi
            measure_wrk retries $server "$pid" -s "$lua" "http://127.0.0.1:$port/cloud" -- "$work/bodies-$round.tsv"
            measure_wrk healthz $server "$pid" "http://127.0.0.1:$port/healthz"
        done
    fi
    stop_process "$cutover_pid"
    rm -rf "$work/spool-round$round"
    if ! skipped pg; then
        measure_postgres "$round" 1 "$work/bodies-$round.tsv"
        measure_postgres "$round" 2 "$work/bodies-$round.tsv"
    fi
done
skipped pg || stop_postgres

# Latency at half of Cutover's own distinct rate, new events each; then RSS under paced retries.
half_rate=-
if [ "$ROWS" = all ]; then
    max_rate=$(awk -F'\t' '$1 == "distinct" && $2 == "cutover" {printf "%s ", $3}' "$results" | median)
    half_rate=$((max_rate / 2))
    start_cutover latency --app-secret "$SECRET" --forward "http://127.0.0.1:$sink_port/hook" --format cloud
    latency_sent=0
    for round in $(seq 1 "$ROUNDS"); do
        signed_bodies "$work/latency-$round.tsv" "$((half_rate * LATENCY_SECONDS))" "L$round$$" "$SECRET"
        for server in nginx cutover; do
            if [ $server = nginx ]; then pid=$reference_pid port=$reference_port; else pid=$cutover_pid port=$cutover_port; fi
            read -r _ completed non2xx p50 p99 _ _ achieved < <(bench_client "$work/paced-client" "$port" "$half_rate" "$LATENCY_SECONDS" "$CONNECTIONS" "$work/latency-$round.tsv")
            [ "$non2xx" = 0 ] || echo "warning: latency on $server: $non2xx non-2xx answers" >&2
            record latency-p50 $server "$p50" -
            record latency-p99 $server "$p99" -
            # Cutover's deliveries of the round run on core 0 after its last answer; the next
            # round, nginx's or Cutover's, starts once they are done, or it measures beside them.
            if [ $server = cutover ]; then
                latency_sent=$((latency_sent + completed - non2xx))
                wait_delivered "$latency_sent" "$cutover_port"
            fi
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
    skipped h2 || BENCH_TSV=$results ./scripts/bench-h2.sh >&2
    skipped mallocs || BENCH_TSV=$results ./scripts/bench-ingest.sh >&2
fi

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

print(f"| workload | cutover | nginx | ratio | cutover CPU µs/req | nginx CPU µs/req | ratio by CPU | goal |")
print("|---|---|---|---|---|---|---|---|")
def throughput(title, row, goal, unit="/s"):
    c, n = med(row, "cutover"), med(row, "nginx")
    if c is None and n is None:
        return  # a row BENCH_ROWS left out
    own, theirs = med(row, "cutover", 1), med(row, "nginx", 1)
    print(f"| {title} | {fmt(c)}{unit} | {fmt(n)}{unit} | {ratio(c, n)} | {fmt(own, 1)} | {fmt(theirs, 1)} | {ratio(theirs, own)} | {goal} |")
throughput("distinct signed Cloud webhooks, delivered to a local sink (events/s until the last delivery)", "distinct", ">= 0.30x")
for server, shape in (("postgres-1", "one instance"), ("postgres-2", "two instances on one database, load split across both")):
    c, n, sqlite = med("distinct", server), med("distinct", "nginx"), med("distinct", "cutover")
    if c is None:
        continue
    own, backends = med("distinct-cpu-split", server, 0), med("distinct-cpu-split", server, 1)
    print(f"| the same on PostgreSQL, {shape} ({ratio(c, sqlite)} of SQLite's; CPU µs/event: cutover {fmt(own, 1)} + postgres {fmt(backends, 1)}) "
          f"| {fmt(c)}/s | {fmt(n)}/s | {ratio(c, n)} | {fmt(med('distinct', server, 1), 1)} | {fmt(med('distinct', 'nginx', 1), 1)} "
          f"| {ratio(med('distinct', 'nginx', 1), med('distinct', server, 1))} | |")
once = []
for server, name in (("cutover", "SQLite"), ("postgres-1", "PostgreSQL x1"), ("postgres-2", "PostgreSQL x2")):
    runs = values.get(("delivered-once", server), [])
    if runs:
        once.append(f"{name} {min(int(v[0]) for v in runs)} ({sum(int(v[1]) for v in runs)} / {sum(int(v[2]) for v in runs)})")
if once:
    print(f"| distinct rows: events at the sink once per round, fewest of the rounds (repeats / missing, all rounds) | {'; '.join(once)} | | | | | | each once |")
throughput("retries of committed ids", "retries", ">= 0.60x")
throughput("GET /healthz", "healthz", ">= 1.0x")
for q in ("p50", "p99"):
    c, n = med(f"latency-{q}", "cutover"), med(f"latency-{q}", "nginx")
    if c is None:
        continue
    print(f"| {q} acknowledgement of new events at {half_rate}/s (half of Cutover's distinct rate) | {fmt(c, 2)} ms | {fmt(n, 2)} ms | {ratio(c, n)} | | | | {'<= 5 ms' if q == 'p99' else ''} |")
c, n = med("rss-at-rate", "cutover"), med("rss-at-rate", "nginx")
if c is not None:
    print(f"| RSS at {fmt(med('rss-achieved-rate', 'cutover'))} req/s of retries (asked {rss_rate}/s); peak {fmt(med('rss-peak', 'cutover'))} MB | {fmt(c)} MB | {fmt(n)} MB | {ratio(c, n)} | | | | < 100 MB |")
for mode, goal in (("h2c -m1", ">= 0.5x"), ("h2c -m10", ">= 0.5x"), ("h2-tls -m1", ">= 0.5x"), ("h2-tls -m10", ">= 0.5x"), ("h1 -m1", ""), ("h1-tls -m1", "")):
    if (mode, "cutover") in values:
        throughput(f"{mode} POST 1.3 KB (h2load, server alone)", mode, goal)
c, p = med("h1-tls -m1", "cutover"), med("h1 -m1", "cutover")
if c and p:
    # The row is bound by h2load on the client core (each server well under a core): the CPU
    # ratio, plain µs over TLS µs per request, is the figure that says what TLS costs Cutover.
    tls_cpu, plain_cpu = med("h1-tls -m1", "cutover", 1), med("h1 -m1", "cutover", 1)
    print(f"| TLS HTTP/1.1 vs plain HTTP/1.1, Cutover | {fmt(c)}/s | plain {fmt(p)}/s | {ratio(c, p)} "
          f"| {fmt(tls_cpu, 1)} | plain {fmt(plain_cpu, 1)} | {ratio(plain_cpu, tls_cpu)} | >= 0.7x |")
for phase in ("new", "duplicate"):
    m = med("mallocs", phase)
    if m is not None:
        print(f"| mallocs per {'new event (with its delivery)' if phase == 'new' else 'retry'} | {fmt(m, 1)} | | | | | | {'<= 60' if phase == 'new' else ''} |")
print(f"| distinct row: context switches per event (cutover process) | {fmt(med('distinct', 'cutover', 2), 2)} | {fmt(med('distinct', 'nginx', 2), 2)} | | | | | |")
print(f"| distinct row: syscalls per event on core 0 (server + sink) | {fmt(med('distinct', 'cutover', 3), 1)} | {fmt(med('distinct', 'nginx', 3), 1)} | | | | | |")
print(f"Medians of {rounds} interleaved rounds. ratio: cutover/nginx in the same run (for latency and RSS: lower is better); "
      "ratio by CPU: nginx's CPU µs per request over cutover's (higher is better, like ratio).")
if ("distinct", "postgres-1") in values:
    print("PostgreSQL rows: postgres on the server core with cutover; their CPU µs/event is the cutover processes' plus every postgres process's.")
PY
