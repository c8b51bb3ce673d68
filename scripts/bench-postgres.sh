#!/usr/bin/env bash
# The PostgreSQL x1 distinct row of `make bench` alone, for one or more cutover binaries in the same
# run, with pg_stat_statements loaded: where the postgres processes spend their time per statement.
#
#   scripts/bench-postgres.sh [NAME=BINARY ...]   (default: this worktree's release build)
#
# Each round, for each binary in turn: a new database, one `cutover serve` on it, BENCH_EVENTS
# distinct signed bodies (1000 contacts) over BENCH_CONNECTIONS connections, until the last delivery
# is recorded (/metrics). Prints per binary the median events/s and CPU µs/event (cutover, postgres),
# then the top statements of its last round's database (pg_stat_statements keeps them per database):
# calls, total and mean execution ms, total planning ms (PQexecParams plans every call).
# Environment: BENCH_ROUNDS (2), BENCH_EVENTS (20000), BENCH_CONNECTIONS (64), BENCH_STATEMENTS (12),
# BENCH_POSTGRES_OPTIONS (more `-c name=value` for postgres, e.g. auto_explain's), BENCH_POSTGRES_LOG
# (a path: the server's log is copied there at the end).
source "$(dirname "$0")/bench-common.sh"

ROUNDS=${BENCH_ROUNDS:-2}
EVENTS=${BENCH_EVENTS:-20000}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
STATEMENTS=${BENCH_STATEMENTS:-12}
SECRET=bench-secret
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("this=$CUTOVER_RELEASE_BINARY")
for entry in "${binaries[@]}"; do
    [ -x "${entry#*=}" ] || { echo "no binary at ${entry#*=} (NAME=BINARY)" >&2; exit 1; }
done
build_c paced-client scripts/bench-latency/paced-client.c
start_nginx sink
sink_port=$nginx_port
# shellcheck disable=SC2086 # the options are words
start_postgres -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on ${BENCH_POSTGRES_OPTIONS:-}
admin_url="postgresql://cutover@127.0.0.1:$postgres_port/postgres"
psql -X -q -c "CREATE EXTENSION pg_stat_statements" "$admin_url"
results=$work/results.tsv
: > "$results"

# run_one NAME BINARY ROUND BODIES: records "NAME events/s cutover-µs/event postgres-µs/event".
run_one() {
    local name=$1 binary=$2 round=$3 bodies=$4 database="bench_${1}_r$3" cpu0 pg0 started finished
    psql -X -q -c "CREATE DATABASE $database" "$admin_url"
    CUTOVER_RELEASE_BINARY=$binary start_cutover_on "postgresql://cutover@127.0.0.1:$postgres_port/$database" "$name-r$round" \
        --app-secret "$SECRET" --forward "http://127.0.0.1:$sink_port/hook" --format cloud
    cpu0=$(cpu_microseconds "$cutover_pid"); pg0=$(postgres_cpu_microseconds)
    started=$(date +%s.%N)
    bench_client "$work/paced-client" "$cutover_port" 0 "$EVENTS" "$CONNECTIONS" "$bodies" > "$work/client.out"
    wait_delivered "$EVENTS" "$cutover_port" || { echo "$name: not every event was delivered" >&2; return 1; }
    finished=$(date +%s.%N)
    printf '%s\t%s\t%s\t%s\n' "$name" "$(python3 -c "import sys; print(f'{int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):.0f}')" "$EVENTS" "$started" "$finished")" \
        "$(per $(( $(cpu_microseconds "$cutover_pid") - cpu0 )) "$EVENTS")" "$(per $(( $(postgres_cpu_microseconds) - pg0 )) "$EVENTS")" >> "$results"
    [ "$(awk '{print $3}' "$work/client.out")" = 0 ] || echo "warning: $name answered non-2xx: $(cat "$work/client.out")" >&2
    stop_process "$cutover_pid"
}

for round in $(seq 1 "$ROUNDS"); do
    signed_bodies "$work/bodies-$round.tsv" "$EVENTS" "P$round$$" "$SECRET"
    for entry in "${binaries[@]}"; do
        echo "round $round: ${entry%%=*}" >&2
        run_one "${entry%%=*}" "${entry#*=}" "$round" "$work/bodies-$round.tsv"
    done
done

echo "| binary | events/s | cutover CPU µs/event | postgres CPU µs/event |"
echo "|---|---|---|---|"
for entry in "${binaries[@]}"; do
    name=${entry%%=*}
    printf '| %s | %s | %s | %s |\n' "$name" \
        "$(awk -F'\t' -v n="$name" '$1 == n {printf "%s ", $2}' "$results" | median)" \
        "$(awk -F'\t' -v n="$name" '$1 == n {printf "%s ", $3}' "$results" | median)" \
        "$(awk -F'\t' -v n="$name" '$1 == n {printf "%s ", $4}' "$results" | median)"
done
for entry in "${binaries[@]}"; do
    echo
    echo "top statements, ${entry%%=*}, round $ROUNDS ($EVENTS events):"
    psql -X -q -P pager=off -c "
        SELECT s.calls, round(s.total_exec_time::numeric, 1) AS total_ms, round(s.mean_exec_time::numeric, 3) AS mean_ms,
               round(s.total_plan_time::numeric, 1) AS plan_ms, s.rows,
               left(regexp_replace(s.query, '\s+', ' ', 'g'), 110) AS query
        FROM pg_stat_statements AS s JOIN pg_database AS d ON d.oid = s.dbid
        WHERE d.datname = 'bench_${entry%%=*}_r$ROUNDS'
        ORDER BY s.total_exec_time + s.total_plan_time DESC LIMIT $STATEMENTS" "$admin_url"
done
stop_postgres
[ -z "${BENCH_POSTGRES_LOG:-}" ] || cp "$work/postgres.log" "$BENCH_POSTGRES_LOG"
