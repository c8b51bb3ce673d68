#!/usr/bin/env bash
# Hostile traffic against one `cutover serve`, with figures: the server's peak and settled RSS
# (from /proc) and /healthz latency p50/p99 while each attack runs. Not a test (CI does not run
# it): run it against two binaries to compare, e.g.
#
#   scripts/stress.sh /path/to/main/.build/release/cutover     # before
#   scripts/stress.sh .build/release/cutover                   # after
#
# Phases (PHASES="unauth h2 signed tiny" by default; each bounded in count and time):
#   unauth  1000 connections at once, each POST /cloud of 4 MiB - 1 with a wrong signature
#   h2      3 h2c connections x 100 streams x (4 MiB - 1), interleaved, wrong signature
#   signed  48 senders x 5 rounds of a 3 MB correctly signed Cloud body
#   tiny    a signed 3 MB body of 110k tiny objects, 1 and 4 senders in a loop (stress-heavy-bodies.sh)
# Loopback only; everything started here is stopped on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
binary="$(realpath "${1:-$root/.build/release/cutover}")"
phases="${PHASES:-unauth h2 signed tiny}"
attack_seconds="${ATTACK_SECONDS:-40}"
settle_seconds="${SETTLE_SECONDS:-5}"
secret="stress-app-secret"

[[ -x "$binary" ]] || { echo "stress: no cutover binary at $binary (swift build -c release)" >&2; exit 1; }
python="$("$root/scripts/consumers/setup-venv.sh" "$root" | tail -1)"  # h2 for the HTTP/2 phase
client="$here/stress_client.py"
work="$(mktemp -d /tmp/cutover-stress.XXXXXX)"
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# A fresh server (and spool) per phase, so each starts from the same RSS.
start_server() {
    local name="$1"
    "$binary" serve --listen 127.0.0.1:0 --spool "$work/spool.$name" --app-secret "$secret" --log-level notice \
        2>"$work/server.$name.log" &
    server_pid=$!
    port=""
    for _ in $(seq 100); do
        port="$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/server.$name.log" | grep -o '[0-9]*$' || true)"
        [[ -n "$port" ]] && return
        sleep 0.1
    done
    echo "stress: cutover did not start:" >&2
    cat "$work/server.$name.log" >&2
    exit 1
}

stop_server() {
    kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

rss_mb() { awk '/^VmRSS/ {printf "%d", $2 / 1024}' "/proc/$server_pid/status"; }

# Samples the server's RSS every 50 ms until the stop file appears; prints the peak in MB.
sample_peak() {
    local stop="$1" peak=0 now
    while [[ ! -e "$stop" ]]; do
        now="$(rss_mb)"
        (( now > peak )) && peak="$now"
        sleep 0.05
    done
    echo "$peak"
}

# Runs one attack with the RSS sampler and the /healthz prober beside it, then lets the server
# settle and reports: phase, attack outcome, peak and settled RSS, /healthz latency.
run_phase() {
    local name="$1" command="$2"; shift 2
    start_server "$name"
    local stop="$work/stop.$name"
    local before; before="$(rss_mb)"
    sample_peak "$stop" >"$work/peak.$name" &
    local sampler=$!
    "$python" "$client" healthz "$port" "$stop" >"$work/healthz.$name" &
    local prober=$!
    local outcome
    outcome="$(timeout $((attack_seconds + 30)) "$python" "$client" "$command" "$port" "$@" 2>&1 | tail -1 || echo "attack failed")"
    touch "$stop"
    wait "$sampler" "$prober" || true
    sleep "$settle_seconds"
    printf '%-7s rss_before_mb=%s rss_peak_mb=%s rss_settled_mb=%s %s\n        %s\n' \
        "$name" "$before" "$(cat "$work/peak.$name")" "$(rss_mb)" "$(cat "$work/healthz.$name")" "$outcome"
    kill -0 "$server_pid" 2>/dev/null || { echo "stress: the server died during $name" >&2; tail -20 "$work/server.$name.log" >&2; exit 1; }
    stop_server
}

# Item 5: decode off the I/O loops. Its own script starts its own servers (one per sender count)
# and prints /healthz p50/p99 per sender count; STRESS_SECONDS bounds each.
phase_tiny() {
    STRESS_SECONDS="${STRESS_SECONDS:-10}" "$here/stress-heavy-bodies.sh" "$binary"
}

echo "cutover stress: $binary on loopback (attacks bounded at ${attack_seconds} s, settle ${settle_seconds} s)"
for phase in $phases; do
    case "$phase" in
        unauth) run_phase unauth unauth 1000 $((4 * 1024 * 1024 - 1)) "$attack_seconds" ;;
        h2) run_phase h2 h2 3 100 $((4 * 1024 * 1024 - 1)) "$attack_seconds" ;;
        signed) run_phase signed signed 48 5 3000000 "$secret" "$attack_seconds" ;;
        tiny) phase_tiny ;;
        *) echo "stress: unknown phase $phase" >&2; exit 1 ;;
    esac
done
