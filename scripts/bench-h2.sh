#!/usr/bin/env bash
# BENCH_EVENT_LOOP=dispatch runs the server on Dispatch sources instead of the epoll loop.
# h2load against Cutover's HTTPServer (the cutover-h2-bench target: `return 200` through the real
# server, HTTP/2 session and handler path) and, in the same run, nginx `return 200`: h2c with
# prior knowledge and h2 over TLS, 1 and 10 streams per connection, POST of a 1.5 KB JSON body.
# Prints req/s per round, the median, and Cutover's ratio to nginx. Servers run on core 0,
# h2load on core 1 (as in shared/reference/swift-server-anchors.md, part B.5).
#
# Requests per run stay under ~6k per connection (-n = connections x 6000 at most): nginx's h2
# connections start failing requests after ~8k discarded POST bodies (B.5), which would make
# its figures meaningless; Cutover has no such limit (CutoverHTTP2Tests checks it).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${BENCH_CONNECTIONS:-64}
ROUNDS=${BENCH_ROUNDS:-3}
REQUESTS=${BENCH_REQUESTS:-128000}
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

swift build -c release --product cutover-h2-bench >/dev/null
bench_binary="$(swift build -c release --show-bin-path)/cutover-h2-bench"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 1 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
python3 -c 'import json; print(json.dumps({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"padding":"x"*1300}}]}]}))' > "$work/body.json"

# Cutover: one event loop, pinned like nginx's single worker.
taskset -c 0 "$bench_binary" --loops 1 ${BENCH_EVENT_LOOP:+--event-loop "$BENCH_EVENT_LOOP"} --port 0 --tls-port 0 --cert "$work/cert.pem" --key "$work/key.pem" > "$work/cutover.out" &
pids+=($!)
disown
for _ in $(seq 1 100); do grep -q plain= "$work/cutover.out" 2>/dev/null && break; sleep 0.1; done
cutover_plain=$(sed -n 's/plain=\([0-9]*\) .*/\1/p' "$work/cutover.out")
cutover_tls=$(sed -n 's/.* tls=\([0-9]*\)/\1/p' "$work/cutover.out")

nginx_plain=$(free_port)
nginx_tls=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_plain http2;
        listen 127.0.0.1:$nginx_tls ssl http2;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        location / { return 200; }
    }
}
CONF
taskset -c 0 nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)
disown
wait_port "$nginx_plain"
wait_port "$cutover_plain"

# One h2load run: prints req/s (0 when any request failed).
run() {
    local url=$1 streams=$2 out
    out=$(taskset -c 1 h2load -t1 -c"$CONNECTIONS" -m"$streams" -n"$REQUESTS" -d "$work/body.json" \
        -H 'content-type: application/json' "$url" 2>&1)
    if ! grep -q "succeeded, 0 failed, 0 errored" <<<"$out"; then echo 0; return; fi
    sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-16s %-8s %-36s %10s\n' mode server "req/s per round" median
for mode in "h2c -m1" "h2c -m10" "h2-tls -m1" "h2-tls -m10"; do
    streams=${mode##*-m}
    declare -A results=()
    for round in $(seq 1 "$ROUNDS"); do
        for server in nginx cutover; do
            case "$mode,$server" in
                h2c*,nginx) url="http://127.0.0.1:$nginx_plain/webhook" ;;
                h2c*,cutover) url="http://127.0.0.1:$cutover_plain/webhook" ;;
                h2-tls*,nginx) url="https://127.0.0.1:$nginx_tls/webhook" ;;
                h2-tls*,cutover) url="https://127.0.0.1:$cutover_tls/webhook" ;;
            esac
            taskset -c 1 h2load -t1 -c"$CONNECTIONS" -m"$streams" -n 6400 -d "$work/body.json" "$url" >/dev/null 2>&1 || true  # warm-up
            results[$server]+="$(run "$url" "$streams") "
        done
    done
    n=$(median <<<"${results[nginx]}")
    c=$(median <<<"${results[cutover]}")
    printf '%-16s %-8s %-36s %10s\n' "$mode" nginx "${results[nginx]}" "$n"
    printf '%-16s %-8s %-36s %10s\n' "$mode" cutover "${results[cutover]}" "$c"
    python3 -c "import sys; n,c=float(sys.argv[1]),float(sys.argv[2]); print(f'{sys.argv[3]:<16} ratio    cutover/nginx = {c/n:.2f}' if n else 'nginx failed')" "$n" "$c" "$mode"
    unset results
done
