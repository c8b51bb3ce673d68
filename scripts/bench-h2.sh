#!/usr/bin/env bash
# h2load against Cutover's HTTPServer (the cutover-h2-bench target: `return 200` through the real
# server, HTTP/2 session and handler path) and, in the same run, nginx `return 200`: HTTP/1.1 plain
# and over TLS, h2c with prior knowledge and h2 over TLS, 1 and 10 streams per connection, POST of a
# 1.3 KB JSON body. Prints req/s per round, the median, CPU µs per request and Cutover's ratio to
# nginx. Servers run on core 0, h2load on core 1 (shared/reference/swift-server-anchors.md, B.5).
#   BENCH_EVENT_LOOP=dispatch   the server on Dispatch sources instead of the epoll loop
#   BENCH_MODES                 a subset of "h1 -m1,h1-tls -m1,h2c -m1,h2c -m10,h2-tls -m1,h2-tls -m10"
#   BENCH_TSV=FILE              also append each run to FILE for scripts/bench.sh's table
#
# Requests per run stay under ~6k per connection (-n = connections x 6000 at most): nginx's h2
# connections start failing requests after ~8k discarded POST bodies (B.5), which would make
# its figures meaningless; Cutover has no such limit (CutoverHTTP2Tests checks it).
source "$(dirname "$0")/bench-common.sh"

CONNECTIONS=${BENCH_CONNECTIONS:-64}
ROUNDS=${BENCH_ROUNDS:-3}
REQUESTS=${BENCH_REQUESTS:-128000}
MODES=${BENCH_MODES:-h1 -m1,h1-tls -m1,h2c -m1,h2c -m10,h2-tls -m1,h2-tls -m10}

# RELEASE_FLAGS (from the Makefile): the flags the release tree was built with, so this build adds
# its product instead of recompiling every module.
# shellcheck disable=SC2086
swift build -c release ${RELEASE_FLAGS:-} --product cutover-h2-bench >/dev/null
# shellcheck disable=SC2086
bench_binary="$(swift build -c release ${RELEASE_FLAGS:-} --show-bin-path)/cutover-h2-bench"

make_certificate
python3 -c 'import json; print(json.dumps({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"padding":"x"*1300}}]}]}))' > "$work/body.json"

# Cutover: one event loop, pinned like nginx's single worker.
bench_spawn "$work/cutover.out" "$bench_binary" --loops 1 ${BENCH_EVENT_LOOP:+--event-loop "$BENCH_EVENT_LOOP"} \
    --port 0 --tls-port 0 --cert "$work/cert.pem" --key "$work/key.pem"
cutover_pid=$spawned
wait_file_line "$work/cutover.out" plain=
cutover_plain=$(sed -n 's/plain=\([0-9]*\) .*/\1/p' "$work/cutover.out")
cutover_tls=$(sed -n 's/.* tls=\([0-9]*\)/\1/p' "$work/cutover.out")
start_nginx h2

# run URL STREAMS FLAGS PID: one h2load run; prints "req/s cpu_us_per_request" (req/s 0 when any
# request failed).
run() {
    local url=$1 streams=$2 flags=$3 pid=$4 out cpu0
    cpu0=$(cpu_microseconds "$pid")
    out=$(bench_client h2load $flags -t1 -c"$CONNECTIONS" -m"$streams" -n"$REQUESTS" -d "$work/body.json" \
        -H 'content-type: application/json' "$url" 2>&1)
    local cpu=$(( $(cpu_microseconds "$pid") - cpu0 ))
    if ! grep -q "succeeded, 0 failed, 0 errored" <<<"$out"; then echo "0 -"; return; fi
    echo "$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out") $(per "$cpu" "$REQUESTS")"
}

printf '%-14s %-8s %-36s %10s %11s\n' mode server "req/s per round" median "CPU µs/req"
IFS=, read -ra modes <<<"$MODES"
for mode in "${modes[@]}"; do
    streams=${mode##*-m}
    declare -A rates=() cpus=()
    for round in $(seq 1 "$ROUNDS"); do
        for server in nginx cutover; do
            case "$mode,$server" in
                h1-tls*,nginx | h2-tls*,nginx) url="https://127.0.0.1:$nginx_tls_port/webhook" pid=$nginx_pid ;;
                h1-tls*,cutover | h2-tls*,cutover) url="https://127.0.0.1:$cutover_tls/webhook" pid=$cutover_pid ;;
                h1*,nginx) url="http://127.0.0.1:$nginx_port/webhook" pid=$nginx_pid ;;
                h2c*,nginx) url="http://127.0.0.1:$nginx_h2c_port/webhook" pid=$nginx_pid ;;
                *,cutover) url="http://127.0.0.1:$cutover_plain/webhook" pid=$cutover_pid ;;
            esac
            flags=""; case $mode in h1*) flags=--h1 ;; esac
            bench_client h2load $flags -t1 -c"$CONNECTIONS" -m"$streams" -n 6400 -d "$work/body.json" "$url" >/dev/null 2>&1 || true  # warm-up
            read -r rate cpu < <(run "$url" "$streams" "$flags" "$pid")
            rates[$server]+="$rate "; cpus[$server]+="$cpu "
            if [ -n "${BENCH_TSV:-}" ]; then printf '%s\t%s\t%s\t%s\t-\t-\n' "$mode" "$server" "$rate" "$cpu" >> "$BENCH_TSV"; fi
        done
    done
    for server in nginx cutover; do
        printf '%-14s %-8s %-36s %10s %11s\n' "$mode" "$server" "${rates[$server]}" "$(median <<<"${rates[$server]}")" "$(median <<<"${cpus[$server]}")"
    done
    printf '%-14s ratio    cutover/nginx = %s\n' "$mode" "$(ratio "$(median <<<"${rates[cutover]}")" "$(median <<<"${rates[nginx]}")")"
    unset rates cpus
done
