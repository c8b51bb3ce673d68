#!/usr/bin/env bash
# Allocations on the ingest path: mallocs per request for a new event (with its delivery to a local
# nginx `return 200`) and for a retry of stored ids, counted by a malloc interposer built here from
# C (scripts/bench-ingest/malloc-count.c, LD_PRELOAD) over a fixed number of requests after a
# warm-up. Not a timing: counts do not depend on the machine's load.
#   BENCH_BINARY   the cutover to measure (default .build/release/cutover; pass another build to compare)
#   BENCH_REQUESTS requests per phase (default 2000)
#   BENCH_TSV      also append the per-request figures to FILE for scripts/bench.sh's table
source "$(dirname "$0")/bench-common.sh"

BINARY=${BENCH_BINARY:-$CUTOVER_RELEASE_BINARY}
REQUESTS=${BENCH_REQUESTS:-2000}
SECRET=bench-secret

build_c malloc-count.so scripts/bench-ingest/malloc-count.c -shared -fPIC

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

start_nginx sink

port=$(free_port)
: > "$work/mallocs"
bench_spawn "$work/cutover.log" env MALLOC_COUNT_FILE="$work/mallocs" LD_PRELOAD="$work/malloc-count.so" \
  "$BINARY" serve --listen "127.0.0.1:$port" --spool "$work/spool" --app-secret "$SECRET" \
  --forward "http://127.0.0.1:$nginx_port/hook" --format cloud
wait_port "$port" "$spawned"

echo "mallocs per request ($BINARY, $(wc -c < "$work/template.json") B minified Cloud message, $REQUESTS requests per phase)"
printf "%-16s %9s %10s %12s\n" phase requests mallocs "per request"
python3 scripts/bench-ingest/drive.py "$port" "$SECRET" "$work/mallocs" "$work/template.json" "$REQUESTS" "$BINARY" "$work/spool" |
  while read -r name requests spent per; do
    printf "%-16s %9s %10s %12s\n" "$name" "$requests" "$spent" "$per"
    if [ -n "${BENCH_TSV:-}" ]; then printf 'mallocs\t%s\t%s\t-\t-\t-\n' "$name" "$per" >> "$BENCH_TSV"; fi
  done
echo "new: a new message id per request, counted until its delivery (format cloud, to nginx) is recorded."
echo "duplicate: the same bodies again (Meta's retries of stored ids)."
