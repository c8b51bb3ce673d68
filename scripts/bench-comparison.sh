#!/usr/bin/env bash
# What GET /admin/comparison costs on a large SQLite spool: EVENTS events (default 100000) each
# delivered to a primary and a shadow, one in 50 with the shadow dead (500, body prefix kept),
# written straight into the spool with sqlite3; then the median of 5 answers of the endpoint (the
# pair's counts scan the primary's deliveries; the disagreements page walks them by event seq).
# Usage: scripts/bench-comparison.sh [EVENTS]   (CUTOVER_RELEASE_BINARY picks the binary)
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"

events=${1:-100000}
binary=$CUTOVER_RELEASE_BINARY
[ -x "$binary" ] || binary=./.build/debug/cutover
command -v sqlite3 >/dev/null || { echo "bench-comparison: needs the sqlite3 command" >&2; exit 1; }

token=bench-comparison-token-0123456789
admin_port=$(free_port)
cat >"$work/cutover.yml" <<EOF
admin:
  listen: 127.0.0.1:$admin_port
  token: $token
destinations:
  - name: legacy
    url: http://127.0.0.1:9/hook
  - name: new
    url: http://127.0.0.1:9/hook
    role: shadow
EOF

start_cutover() {
    bench_spawn "$work/cutover.log" "$binary" serve --listen 127.0.0.1:0 --spool "$work/spool" --config "$work/cutover.yml"
    cutover_pid=$spawned
    wait_port "$admin_port" "$cutover_pid"
}

# The first start makes the schema; the rows go in while nothing runs.
start_cutover
kill "$cutover_pid"; wait "$cutover_pid" 2>/dev/null || true
sqlite3 "$work/spool/spool.sqlite3" <<EOF
PRAGMA journal_mode = WAL;
BEGIN;
INSERT INTO requests (received_at, route, headers, body, status) VALUES (1700000000, 'cloud', x'', x'7b7d', 'accepted');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $events)
INSERT INTO events (id, request_id, type, contact_key, payload, created_at)
SELECT 'msg:wamid.BENCH' || i, 1, 'message.text', 'contact-' || (i % 1000), x'7b7d', 1700000000 + i FROM n;
INSERT INTO deliveries (event_seq, destination, state, attempts, next_attempt_at, last_status, contact_key, created_at, updated_at)
SELECT seq, 'legacy', 'delivered', 1, created_at, 200, contact_key, created_at, created_at FROM events;
INSERT INTO deliveries (event_seq, destination, state, attempts, next_attempt_at, last_status, last_error, contact_key, created_at, updated_at)
SELECT seq, 'new', CASE WHEN seq % 50 = 0 THEN 'dead' ELSE 'delivered' END, 1, created_at,
       CASE WHEN seq % 50 = 0 THEN 500 ELSE 200 END, CASE WHEN seq % 50 = 0 THEN 'HTTP 500: shadow broke' END,
       contact_key, created_at, created_at FROM events;
INSERT INTO attempts (delivery_id, attempt, at, outcome, status, error, latency_ms, body_prefix)
SELECT id, 1, updated_at, CASE state WHEN 'dead' THEN 'dead' ELSE 'delivered' END, last_status, last_error, 3.5,
       CASE WHEN state = 'dead' THEN CAST('shadow broke' AS BLOB) ELSE CAST('ok' AS BLOB) END FROM deliveries;
COMMIT;
EOF
start_cutover

times=()
for _ in 1 2 3 4 5; do
    times+=("$(curl -sS -o "$work/answer.json" -w '%{time_total}' -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$admin_port/admin/comparison?limit=100")")
done
summary=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); p=a["pairs"][0]; print(p["events"], p["disagree"], len(a["disagreements"]))' "$work/answer.json")
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
echo "comparison: $events events x 2 deliveries; events, disagree, page: $summary; median answer ${median}s (of ${times[*]})"
