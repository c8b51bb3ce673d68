#!/usr/bin/env bash
# Where a distinct event's CPU goes, stage by stage: the distinct-events workload of `make bench`
# (pre-signed minified Cloud webhooks, a new id each over 1000 contacts, each delivered to a local
# nginx sink) with perf sampling cutover's threads (call graphs from DWARF), split into pipeline
# stages by scripts/bench-profile/stages.py. Also counts cutover's context switches per event by
# cause (the user frames under each switch). A profile, not a timing: shares are what to read.
#   BENCH_EVENTS   distinct events profiled (default 10000), after a warm-up of 200
#   BENCH_BINARY   the cutover to profile (default .build/release/cutover)
#   BENCH_RATE     events per second, paced (scripts/bench-latency's client); default 0: unpaced.
#                  At a paced rate each batch is smaller, so an event costs more: see where.
#   BENCH_PROFILE_KEEP  a directory to keep the samples in (cpu.txt, switches.txt: perf script text)
#   BENCH_PROFILE_ENV   NAME=VALUE set in cutover's environment (for a trial build's switches)
source "$(dirname "$0")/bench-common.sh"

BINARY=${BENCH_BINARY:-$CUTOVER_RELEASE_BINARY}
EVENTS=${BENCH_EVENTS:-10000}
RATE=${BENCH_RATE:-0}
SECRET=bench-secret
command -v perf >/dev/null || { echo "bench-profile needs perf (linux-perf)" >&2; exit 1; }

build_c paced-client scripts/bench-latency/paced-client.c
signed_bodies "$work/warm.tsv" 200 "W$$" "$SECRET"
start_nginx sink
port=$(free_port)
bench_spawn "$work/cutover.log" env ${BENCH_PROFILE_ENV:-} "$BINARY" serve --listen "127.0.0.1:$port" --spool "$work/spool" --app-secret "$SECRET" \
    --forward "http://127.0.0.1:$nginx_port/hook" --format cloud
pid=$spawned
wait_port "$port" "$pid"

# profile_run TAG OUT PERF_ARGS...: EVENTS new signed bodies (ids tagged TAG) through cutover until
# all are delivered, with `perf record PERF_ARGS` on cutover into OUT; sets $cpu and $switches.
profile_run() {
    local tag=$1 out=$2 before; shift 2
    signed_bodies "$work/bodies.tsv" "$EVENTS" "$tag$$" "$SECRET"
    before=$(delivered "$port")
    perf record -q "$@" --call-graph dwarf,16384 -m 4096 -p "$pid" -o "$out" 2>/dev/null &
    local perf_pid=$!
    sleep 0.5  # perf attaches to every thread before the first request
    cpu0=$(cpu_microseconds "$pid"); cs0=$(context_switches "$pid")
    # Unpaced, the client's fourth argument counts requests; paced, seconds.
    local amount=$EVENTS
    [ "$RATE" -eq 0 ] || amount=$(( (EVENTS + RATE - 1) / RATE ))
    bench_client "$work/paced-client" "$port" "$RATE" "$amount" 64 "$work/bodies.tsv" > "$work/client.out"
    wait_delivered $((before + EVENTS)) "$port"
    cpu=$(( $(cpu_microseconds "$pid") - cpu0 )); switches=$(( $(context_switches "$pid") - cs0 ))
    kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
}

bench_client "$work/paced-client" "$port" 0 200 8 "$work/warm.tsv" > /dev/null
wait_delivered 200 "$port"

profile_run C "$work/cpu.data" -F 2999
perf script -i "$work/cpu.data" > "$work/cpu.txt" 2>/dev/null
pace=","; [ "$RATE" -gt 0 ] && pace=" at $RATE/s, paced,"
echo "CPU by stage: $EVENTS distinct events$pace each delivered ($BINARY, $(per "$cpu" "$EVENTS") us of CPU per event while sampled)"
python3 scripts/bench-profile/stages.py "$work/cpu.txt" "$EVENTS" "$cpu"

profile_run S "$work/switches.data" -e sched:sched_switch
perf script -i "$work/switches.data" > "$work/switches.txt" 2>/dev/null
echo
echo "context switches: $(per "$switches" "$EVENTS") per event (from /proc); by what the switching thread was doing:"
python3 scripts/bench-profile/switches.py "$work/switches.txt" "$EVENTS"
[ -z "${BENCH_PROFILE_KEEP:-}" ] || { mkdir -p "$BENCH_PROFILE_KEEP" && cp "$work/cpu.txt" "$work/switches.txt" "$BENCH_PROFILE_KEEP/"; }
