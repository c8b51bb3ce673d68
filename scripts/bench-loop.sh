#!/usr/bin/env bash
# The event loop alone, Dispatch sources against the epoll loop (issue 12): GET /healthz and a
# POST to a path that answers 404 (the server's HTTP path without ingest), each against nginx
# `return 200` in the same run, in interleaved rounds. Beside each req/s ratio: CPU per request
# (utime+stime from /proc/PID/stat), context switches per request (voluntary + nonvoluntary over
# /proc/PID/task/*/status) and, where perf can count tracepoints, syscalls per request on core 0.
# Cutover and nginx run on core 0, wrk on core 1. Not a test: it prints figures.
#
# Usage: scripts/bench-loop.sh   (BENCH_DURATION=5 BENCH_ROUNDS=4 BENCH_CONNECTIONS=64; a release
# build: swift build -c release --product cutover; CUTOVER_RELEASE_BINARY to use another binary)
source "$(dirname "$0")/bench-common.sh"

DURATION=${BENCH_DURATION:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
ROUNDS=${BENCH_ROUNDS:-4}
BINARY=$CUTOVER_RELEASE_BINARY
[ -x "$BINARY" ] || { echo "no release build at $BINARY: swift build -c release --product cutover" >&2; exit 1; }
./scripts/ensure-packages.sh wrk nginx-light

body=fixtures/cloud/msg_order.json
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$body", "rb"); wrk.body = f:read("*a"); f:close()
LUA

start_nginx loop

declare -A port pid
for kind in dispatch epoll; do
  CUTOVER_EVENT_LOOP=$kind start_cutover "$kind"
  port[$kind]=$cutover_port
  pid[$kind]=$cutover_pid
done
port[nginx]=$nginx_port
pid[nginx]=$nginx_pid

perf_events=raw_syscalls:sys_enter,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,syscalls:sys_enter_ioctl
use_perf=0
if command -v perf >/dev/null && perf stat -x, -C "$SERVER_CORE" -a -e "$perf_events" -- true >/dev/null 2>&1; then use_perf=1; fi


# measure WORKLOAD SERVER ROUND: one wrk run, one line of results.
measure() {
  local workload=$1 server=$2 round=$3 target=${pid[$2]} url args=()
  case $workload in
    healthz) url="http://127.0.0.1:${port[$server]}/healthz" ;;
    post404) args=(-s "$work/post.lua"); url="http://127.0.0.1:${port[$server]}/$([ "$server" = nginx ] && echo cloud || echo no-such-path)" ;;
  esac
  local cpu0 cs0 cpu1 cs1 perf_pid=""
  cpu0=$(cpu_ticks "$target"); cs0=$(context_switches "$target")
  if [ $use_perf = 1 ]; then
    perf stat -x, -C "$SERVER_CORE" -a -e "$perf_events" -o "$work/perf.out" &
    perf_pid=$!
  fi
  bench_client wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "${args[@]}" "$url" > "$work/wrk.out"
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; else : > "$work/perf.out"; fi
  cpu1=$(cpu_ticks "$target"); cs1=$(context_switches "$target")
  python3 - "$work/wrk.out" "$work/perf.out" "$workload" "$server" "$round" "$((cpu1 - cpu0))" "$((cs1 - cs0))" "$(getconf CLK_TCK)" <<'PY' >> "$work/results.tsv"
import re, sys
wrk, perf, workload, server, round_, ticks, switches, hz = sys.argv[1:]
text = open(wrk).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
counts = {}
for line in open(perf):
    parts = line.strip().split(",")
    if len(parts) > 2 and parts[0].replace(".", "").isdigit():
        counts[parts[2].split(":")[-1]] = float(parts[0])
def per(name):
    return f"{counts[name] / requests:.2f}" if name in counts else "-"
epoll_wait = (counts.get("sys_enter_epoll_wait", 0) + counts.get("sys_enter_epoll_pwait", 0)) / requests if counts else None
print("\t".join([workload, server, round_, f"{rps:.0f}", str(requests),
                 f"{int(ticks) * 1e6 / int(hz) / requests:.2f}", f"{int(switches) / requests:.3f}",
                 per("sys_enter"), per("sys_enter_epoll_ctl"), f"{epoll_wait:.2f}" if epoll_wait is not None else "-",
                 per("sys_enter_futex"), per("sys_enter_ioctl")]))
PY
}

echo "Event loop benchmark: wrk -t1 -c$CONNECTIONS -d${DURATION}s, $ROUNDS interleaved rounds; cutover (1 loop: affinity of core 0) and nginx on core 0, wrk on core 1"
[ $use_perf = 1 ] || echo "(perf cannot count syscall tracepoints here: syscalls per request left out)"
for round in $(seq 1 "$ROUNDS"); do
  # Alternate the order of the two loops, so neither always runs right after nginx.
  if [ $((round % 2)) = 1 ]; then order="nginx dispatch epoll"; else order="nginx epoll dispatch"; fi
  for workload in healthz post404; do
    for server in $order; do measure "$workload" "$server" "$round"; done
  done
done

python3 - "$work/results.tsv" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
by = {}
for workload, server, round_, rps, requests, cpu, cs, sysc, ctl, wait, futex, ioctl in rows:
    by.setdefault((workload, server), []).append(dict(round=round_, rps=float(rps), cpu=float(cpu), cs=float(cs),
        sys=sysc, ctl=ctl, wait=wait, futex=futex, ioctl=ioctl))
def med(values):
    return statistics.median(values)
def medtext(values):
    numbers = [float(v) for v in values if v != "-"]
    return f"{med(numbers):.2f}" if numbers else "-"
header = f"{'workload':<9} {'server':<9} {'req/s':>8} {'ratio (min-max)':>17} {'CPU us/req':>10} {'CPU ratio':>9} {'ctx sw/req':>10} {'syscalls/req':>12} {'epoll_ctl':>9} {'epoll_wait':>10} {'futex':>6} {'ioctl':>6}"
print(header)
for workload, title in (("healthz", "GET /healthz"), ("post404", "POST 1.5 KB to a 404 path (nginx: return 200)")):
    nginx = {r["round"]: r for r in by[(workload, "nginx")]}
    for server in ("nginx", "dispatch", "epoll"):
        runs = by[(workload, server)]
        ratios = [r["rps"] / nginx[r["round"]]["rps"] for r in runs]
        cpu = med([r["cpu"] for r in runs])
        cpu_ratio = med([r["cpu"] for r in nginx.values()]) / cpu
        print(f"{workload:<9} {server:<9} {med([r['rps'] for r in runs]):>8.0f} "
              f"{med(ratios):>5.2f} ({min(ratios):.2f}-{max(ratios):.2f}) {cpu:>10.2f} {cpu_ratio:>9.2f} "
              f"{med([r['cs'] for r in runs]):>10.3f} {medtext([r['sys'] for r in runs]):>12} {medtext([r['ctl'] for r in runs]):>9} "
              f"{medtext([r['wait'] for r in runs]):>10} {medtext([r['futex'] for r in runs]):>6} {medtext([r['ioctl'] for r in runs]):>6}")
print("Medians over the rounds. ratio: req/s against nginx in the same round; CPU ratio: nginx's CPU per request over the server's.")
print("syscalls: every syscall entered on core 0 during the run (the server, nginx idle, the idle twin) per request.")
PY
