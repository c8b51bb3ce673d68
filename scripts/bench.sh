#!/usr/bin/env bash
# `make bench`: wrk posts a 1.5 KB Cloud webhook to Cutover and, in the same run, to nginx
# answering `return 200`, and prints requests/s, p50 and p99 for both and the ratio.
# Cutover runs on core 0, wrk on core 1 (as in shared/reference/swift-server-anchors.md).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
ROUNDS=${BENCH_ROUNDS:-3}
SECRET=bench-secret
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

body=fixtures/cloud/msg_order.json
signature=$(python3 -c 'import hashlib,hmac,sys; print("sha256="+hmac.new(sys.argv[1].encode(), open(sys.argv[2],"rb").read(), hashlib.sha256).hexdigest())' "$SECRET" "$body")

# Fixed signed body: HMAC + parse + normalize + spool (a dedup hit after the first) + 200.
cat > "$work/signed.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Hub-Signature-256"] = "$signature"
local f = io.open("$body", "rb"); wrk.body = f:read("*a"); f:close()
LUA
# A new message id per request: every request is a new event, a new row and a new delivery.
python3 - "$body" "$work/unique-template.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
value = doc["entry"][0]["changes"][0]["value"]
value["messages"][0]["id"] = "wamid.BENCH__ID__"
# A thousand contacts, as real traffic spreads: per-contact ordering serializes one contact's events.
value["messages"][0]["from"] = "1650__CONTACT__"
value["contacts"][0]["wa_id"] = "1650__CONTACT__"
open(sys.argv[2], "w").write(json.dumps(doc, separators=(",", ":")))
PY
cat > "$work/unique.lua" <<LUA
local f = io.open("$work/unique-template.json", "rb"); local template = f:read("*a"); f:close()
local prefix = tostring(os.time())
local counter = 0
request = function()
  counter = counter + 1
  local body = string.gsub(template, "__ID__", prefix .. counter)
  body = string.gsub(body, "__CONTACT__", string.format("%07d", counter % 1000))
  return wrk.format("POST", "/cloud", {["Content-Type"] = "application/json"}, body)
end
LUA

nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 01;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /healthz { return 200; }
    location = /cloud { return 200; }
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)

start_cutover() {  # name port extra-args... ; the spool lives in $work/spool-NAME
  local name=$1 port=$2; shift 2
  taskset -c 0 ./.build/release/cutover serve --listen "127.0.0.1:$port" --spool "$work/spool-$name" "$@" \
    2>"$work/cutover-$name.log" &
  pids+=($!)
}
signed_port=$(free_port); start_cutover signed "$signed_port" --app-secret "$SECRET"
grouped_port=$(free_port); start_cutover grouped "$grouped_port"
printf 'spool_max_batch: 1\n' > "$work/single.yml"
single_port=$(free_port); start_cutover single "$single_port" --config "$work/single.yml"
wait_port "$nginx_port"; wait_port "$signed_port"; wait_port "$grouped_port"; wait_port "$single_port"

# Prints "req/s p50_ms p99_ms non2xx requests" for one wrk run.
measure() {
  local script=$1 port=$2
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "http://127.0.0.1:$port/cloud" > "$work/wrk.out"
  python3 - "$work/wrk.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s*" + label + r"%\s+([\d.]+)(us|ms|s)", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
requests = int(re.search(r"(\d+) requests in", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{rps:.0f} {ms('50'):.3f} {ms('99'):.3f} {errors.group(1) if errors else 0} {requests}")
PY
}

row() { printf "%-6s %-40s %10s %9s %9s %7s %10s\n" "$@"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

echo "Cutover ingest benchmark: POST $(wc -c < "$body") B Cloud webhook, wrk -t1 -c$CONNECTIONS -d${DURATION}s, server on core 0, wrk on core 1"
row round server "req/s" "p50 ms" "p99 ms" non2xx "ratio"
for round in $(seq 1 "$ROUNDS"); do
  read -r n_rps n_p50 n_p99 n_err _ < <(measure "$work/signed.lua" "$nginx_port")
  row "$round" "nginx return 200" "$n_rps" "$n_p50" "$n_p99" "$n_err" "1.00"
  read -r s_rps s_p50 s_p99 s_err _ < <(measure "$work/signed.lua" "$signed_port")
  row "$round" "cutover signed, repeated body (dedup)" "$s_rps" "$s_p50" "$s_p99" "$s_err" "$(ratio "$s_rps" "$n_rps")"
  read -r g_rps g_p50 g_p99 g_err _ < <(measure "$work/unique.lua" "$grouped_port")
  row "$round" "cutover new events, group commit (64)" "$g_rps" "$g_p50" "$g_p99" "$g_err" "$(ratio "$g_rps" "$n_rps")"
  read -r o_rps o_p50 o_p99 o_err _ < <(measure "$work/unique.lua" "$single_port")
  row "$round" "cutover new events, 1 request/commit" "$o_rps" "$o_p50" "$o_p99" "$o_err" "$(ratio "$o_rps" "$n_rps")"
  echo "       group commit vs one transaction per request: $(ratio "$g_rps" "$o_rps")x"
done
echo "ratio: against nginx in the same round. signed: HMAC + parse + normalize + spool (dedup hit) + 200."
echo "new events: parse + normalize + new spool rows + 200, while the local sink delivers on the same core."

# End to end: how fast accepted events reach the local JSON-lines sink.
e2e_port=$(free_port); start_cutover e2e "$e2e_port"
wait_port "$e2e_port"
started=$(date +%s.%N)
read -r e_rps _ _ _ e_requests < <(measure "$work/unique.lua" "$e2e_port")
sink="$work/spool-e2e/events.jsonl"
python3 - "$sink" "$e_requests" "$started" <<'PY'
import os, sys, time
sink, accepted, started = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.time() + 300
lines = 0
while time.time() < deadline:
    lines = sum(1 for _ in open(sink)) if os.path.exists(sink) else 0
    if lines >= accepted:
        break
    time.sleep(0.2)
elapsed = time.time() - started
print(f"end to end: {accepted} events accepted, {lines} delivered to the local sink in {elapsed:.1f} s: "
      f"{lines / elapsed:.0f} delivered events/s")
PY
