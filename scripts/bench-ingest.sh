#!/usr/bin/env bash
# Allocations on the ingest path: mallocs per request for a new event (with its delivery to a local
# nginx `return 200`) and for a retry of stored ids, counted by a malloc interposer built here from
# C (scripts/bench-ingest/malloc-count.c, LD_PRELOAD) over a fixed number of requests after a
# warm-up. Not a timing: counts do not depend on the machine's load.
#   BENCH_BINARY   the cutover to measure (default .build/release/cutover; pass another build to compare)
#   BENCH_REQUESTS requests per phase (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."

BINARY=${BENCH_BINARY:-.build/release/cutover}
REQUESTS=${BENCH_REQUESTS:-2000}
SECRET=bench-secret
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

gcc -O2 -shared -fPIC -o "$work/malloc-count.so" scripts/bench-ingest/malloc-count.c

# The bench's body (fixtures/cloud/msg_order.json), minified as Meta sends it, one id and contact per request.
python3 - fixtures/cloud/msg_order.json "$work/template.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
value = doc["entry"][0]["changes"][0]["value"]
value["messages"][0]["id"] = "__ID__"
value["messages"][0]["from"] = "1650__CONTACT__"
value["contacts"][0]["wa_id"] = "1650__CONTACT__"
open(sys.argv[2], "w").write(json.dumps(doc, separators=(",", ":")))
PY

nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  server { listen 127.0.0.1:$nginx_port; location / { return 200; } }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)

port=$(free_port)
: > "$work/mallocs"
MALLOC_COUNT_FILE="$work/mallocs" LD_PRELOAD="$work/malloc-count.so" \
  taskset -c 0 "$BINARY" serve --listen "127.0.0.1:$port" --spool "$work/spool" --app-secret "$SECRET" \
  --forward "http://127.0.0.1:$nginx_port/hook" --format cloud 2>"$work/cutover.log" &
pids+=($!)
wait_port "$nginx_port"; wait_port "$port"

echo "mallocs per request ($BINARY, $(wc -c < "$work/template.json") B minified Cloud message, $REQUESTS requests per phase)"
printf "%-16s %9s %10s %12s\n" phase requests mallocs "per request"
python3 scripts/bench-ingest/drive.py "$port" "$SECRET" "$work/mallocs" "$work/template.json" "$REQUESTS" "$BINARY" "$work/spool" |
  while read -r name requests spent per; do printf "%-16s %9s %10s %12s\n" "$name" "$requests" "$spent" "$per"; done
echo "new: a new message id per request, counted until its delivery (format cloud, to nginx) is recorded."
echo "duplicate: the same bodies again (Meta's retries of stored ids)."
