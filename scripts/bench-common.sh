# Sourced by every scripts/bench*.sh: the scaffolding they share. Ports, waits, nginx `return 200`
# (plain, h2c, TLS + h2), cutover with a config, the figures read from /proc (CPU, context switches,
# RSS) and from perf (syscalls), medians and ratios. Servers go on core 0 and load generators on
# core 1 (BENCH_SERVER_CORE, BENCH_CLIENT_CORE), as in shared/reference/swift-server-anchors.md.
# Sourcing sets -euo pipefail, makes $work (removed at exit) and stops every process started with
# `bench_spawn` at exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SERVER_CORE=${BENCH_SERVER_CORE:-0}
CLIENT_CORE=${BENCH_CLIENT_CORE:-1}
CUTOVER_RELEASE_BINARY=${CUTOVER_RELEASE_BINARY:-./.build/release/cutover}
work=$(mktemp -d)
bench_pids=()
bench_cleanup() {
    local pid
    for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap bench_cleanup EXIT

# bench_spawn LOG COMMAND...: starts COMMAND in the background on the server core; its pid is in
# $spawned (not a subshell's: the caller needs it for /proc).
bench_spawn() {
    local log=$1; shift
    taskset -c "$SERVER_CORE" "$@" >"$log" 2>&1 &
    spawned=$!
    bench_pids+=("$spawned")
}

# bench_client COMMAND...: a load generator, on the client core.
bench_client() { taskset -c "$CLIENT_CORE" "$@"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT [PROCESS]: until something accepts on PORT (10 s); fails early if PROCESS died.
wait_port() {
    local port=$1 process=${2:-}
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if [ -n "$process" ] && ! kill -0 "$process" 2>/dev/null; then echo "process $process exited before port $port opened" >&2; return 1; fi
        sleep 0.05
    done
    echo "port $port never opened" >&2
    return 1
}

# wait_file_line FILE PATTERN [SECONDS]: until FILE has a line matching PATTERN (10 s by default).
wait_file_line() {
    for _ in $(seq 1 $((${3:-10} * 20))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "$1 never showed '$2'" >&2
    return 1
}

# start_nginx NAME [EVENT_ID_LOG]: nginx `return 200` with one worker on the server core, listening on
# plain HTTP/1.1 ($nginx_port), h2c with prior knowledge ($nginx_h2c_port) and, when $work/cert.pem
# exists, TLS with h2 and http/1.1 by ALPN ($nginx_tls_port). Its worker's pid is $nginx_pid. With
# EVENT_ID_LOG it appends each request's X-Cutover-Event-Id there (buffered, flushed within 1 s), so
# a sink can tell what arrived once, twice or never.
start_nginx() {
    local name=$1 dir=$work/nginx-$1 tls_listen="" access_log="access_log off;"
    if [ -n "${2:-}" ]; then
        access_log="log_format event_ids '\$http_x_cutover_event_id'; access_log $2 event_ids buffer=64k flush=1s;"
    fi
    nginx_port=$(free_port)
    nginx_h2c_port=$(free_port)
    nginx_tls_port=""
    mkdir -p "$dir"
    if [ -f "$work/cert.pem" ]; then
        nginx_tls_port=$(free_port)
        tls_listen="listen 127.0.0.1:$nginx_tls_port ssl http2; ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;"
    fi
    cat > "$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  $access_log
  keepalive_requests 1000000;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    listen 127.0.0.1:$nginx_h2c_port http2;
    $tls_listen
    location / { return 200; }
  }
}
CONF
    # master_process off: the process started is the one serving, so its /proc is the worker's.
    bench_spawn "$dir/stderr.log" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    nginx_pid=$spawned
    wait_port "$nginx_port" "$nginx_pid"
}

# make_certificate: a P-256 self-signed certificate for 127.0.0.1 in $work/cert.pem, key.pem.
make_certificate() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
        -days 1 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
}

# start_cutover NAME ARGS...: `cutover serve` on a fresh port ($cutover_port), spool in
# $work/spool-NAME, log in $work/cutover-NAME.log; its pid is $cutover_pid.
start_cutover() { start_cutover_on "$work/spool-$1" "$@"; }

# start_cutover_on SPOOL NAME ARGS...: start_cutover with the spool given (a directory or a
# postgresql:// URL).
start_cutover_on() {
    local spool=$1 name=$2; shift 2
    cutover_port=$(free_port)
    bench_spawn "$work/cutover-$name.log" "$CUTOVER_RELEASE_BINARY" serve --listen "127.0.0.1:$cutover_port" \
        --spool "$spool" "$@"
    cutover_pid=$spawned
    wait_port "$cutover_port" "$cutover_pid"
}

# start_postgres: Debian's PostgreSQL, a cluster made by initdb in $work/postgres, on the server
# core, a loopback port ($postgres_port), trust authentication for the user `cutover`, durable as
# in production (fsync=on, synchronous_commit=on; only initdb itself skips its syncs). The
# postmaster's pid is $postgres_pid; stopped at exit with the other processes (stop_postgres
# before is faster). Arguments go to postgres (`-c name=value`). PostgreSQL refuses root: as root it runs as `postgres` through setpriv,
# which execs, so $postgres_pid is the postmaster itself.
start_postgres() {
    local dir=$work/postgres bin as_user=()
    bin=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin
    mkdir -p "$dir/sockets"
    if [ "$(id -u)" = 0 ]; then
        chmod o+x "$work"
        chown -R postgres:postgres "$dir"
        as_user=(setpriv --reuid=postgres --regid=postgres --init-groups)
    fi
    "${as_user[@]}" "$bin/initdb" -D "$dir/data" -A trust -U cutover -E UTF8 --no-sync --no-instructions >"$work/initdb.log" 2>&1 ||
        { cat "$work/initdb.log" >&2; return 1; }
    postgres_port=$(free_port)
    bench_spawn "$work/postgres.log" "${as_user[@]}" "$bin/postgres" -D "$dir/data" -p "$postgres_port" -k "$dir/sockets" \
        -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=100 -c logging_collector=off "$@"
    postgres_pid=$spawned
    wait_file_line "$work/postgres.log" "ready to accept connections" 60
}

# postgres_database NAME: a new empty database; prints its URL.
postgres_database() {
    psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $1" "postgresql://cutover@127.0.0.1:$postgres_port/postgres" >&2
    echo "postgresql://cutover@127.0.0.1:$postgres_port/$1"
}

# stop_postgres: fast shutdown (SIGINT: sessions end, the server exits at once).
stop_postgres() { kill -INT "$postgres_pid" 2>/dev/null || true; wait "$postgres_pid" 2>/dev/null || true; }

# postgres_cpu_microseconds: CPU of every PostgreSQL process so far: the postmaster, its live
# children (backends, WAL writer, checkpointer, ...) and the children it already reaped.
postgres_cpu_microseconds() {
    local ticks child
    ticks=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$postgres_pid/stat")
    for child in $(cat /proc/"$postgres_pid"/task/*/children 2>/dev/null); do
        ticks=$((ticks + $(cpu_ticks "$child" 2>/dev/null || echo 0)))
    done
    echo $(( ticks * 1000000 / $(getconf CLK_TCK) ))
}

# stop_process PID: SIGTERM, then wait for it.
stop_process() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# Figures of one process, read from /proc.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_microseconds() { echo $(( $(cpu_ticks "$1") * 1000000 / $(getconf CLK_TCK) )); }
context_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {n += $2} END {print n}'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
peak_rss_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# Syscalls entered on the server core, where perf can count the tracepoint (else "-").
perf_syscalls_available() {
    command -v perf >/dev/null && perf stat -x, -C "$SERVER_CORE" -a -e raw_syscalls:sys_enter -- true >/dev/null 2>&1
}
# perf_syscalls_start OUT: counting in the background until perf_syscalls_stop.
perf_syscalls_start() {
    perf_out=$1
    perf_pid=""
    if perf_syscalls_available; then
        perf stat -x, -C "$SERVER_CORE" -a -e raw_syscalls:sys_enter -o "$perf_out" &
        perf_pid=$!
    fi
}
# perf_syscalls_stop: the count in $perf_syscalls ("-" without perf). Not in a $(...): perf must
# be a child of the shell that waits for it to write its count.
perf_syscalls_stop() {
    perf_syscalls=-
    [ -n "$perf_pid" ] || return 0
    kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
    perf_syscalls=$(awk -F, '/raw_syscalls:sys_enter/ {print $1; found=1} END {if (!found) print "-"}' "$perf_out")
}

# delivered PORT...: deliveries recorded as delivered so far by the instances on PORT..., from /metrics.
delivered() {
    local port
    for port in "$@"; do curl -s "http://127.0.0.1:$port/metrics"; done |
        awk '/^cutover_deliveries_total\{/ && /outcome="delivered"/ {n += $NF} END {printf "%d\n", n}'
}
# wait_delivered COUNT PORT...: until COUNT deliveries are recorded (5 min at most).
wait_delivered() {
    local count=$1 deadline=$((SECONDS + 300)); shift
    while [ "$(delivered "$@")" -lt "$count" ]; do
        [ $SECONDS -lt $deadline ] || { echo "only $(delivered "$@") of $count deliveries recorded" >&2; return 1; }
        sleep 0.02
    done
}

# per COUNT REQUESTS: COUNT / REQUESTS with two decimals, "-" when COUNT is "-".
per() { python3 -c "import sys; c, n = sys.argv[1], float(sys.argv[2]); print('-' if c == '-' or not n else f'{float(c) / n:.2f}')" "$1" "$2"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "-")}'; }
ratio() { python3 -c "import sys; a, b = sys.argv[1], sys.argv[2]; print('-' if '-' in (a, b) or float(b) == 0 else f'{float(a) / float(b):.2f}')" "$1" "$2"; }

# wrk_run ARGS...: one wrk run on the client core; prints "req/s requests non2xx p50_ms p99_ms".
wrk_run() {
    bench_client wrk --latency "$@" > "$work/wrk.out"
    python3 - "$work/wrk.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s*" + label + r"%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    if not m: return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
requests = int(re.search(r"(\d+) requests in", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{rps:.0f} {requests} {errors.group(1) if errors else 0} {ms('50'):.3f} {ms('99'):.3f}")
PY
}

# signed_bodies OUT COUNT TAG SECRET: COUNT distinct signed Cloud webhooks, one a line
# ("/cloud<TAB>sha256=...<TAB>body"): fixtures/cloud/msg_order.json minified as Meta sends it, a new
# message id each (TAG keeps runs apart) over 1000 contacts.
signed_bodies() {
    python3 - fixtures/cloud/msg_order.json "$@" <<'PY'
import hashlib, hmac, json, sys
fixture, out, count, tag, secret = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5].encode()
doc = json.load(open(fixture))
value = doc["entry"][0]["changes"][0]["value"]
with open(out, "w") as f:
    for i in range(count):
        contact = f"1650{i % 1000:07d}"
        value["messages"][0]["id"] = f"wamid.BENCH{tag}x{i}"
        value["messages"][0]["from"] = contact
        value["contacts"][0]["wa_id"] = contact
        body = json.dumps(doc, separators=(",", ":"))
        signature = "sha256=" + hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
        f.write(f"/cloud\t{signature}\t{body}\n")
PY
}

# build_c NAME SOURCE [FLAGS]: compiles one of the benches' C helpers into $work/NAME.
build_c() { gcc -O2 -Wall -o "$work/$1" "$2" "${@:3}"; }
