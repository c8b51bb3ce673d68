#!/usr/bin/env bash
# Run by `make test` after the suite: fails when a process the tests started is still running.
# Every child the test support (Tests/CutoverTestSupport) spawns carries CUTOVER_TEST_PEER=MARKER
# in its environment, and so do its descendants; the test process itself kills any child a test
# left running when it exits and lists it in LEFTOVERS. Survivors are reported and killed.
set -uo pipefail
marker="${1:?usage: check-no-leftover-peers.sh MARKER [LEFTOVERS-FILE]}"
leftovers="${2:-}"
failed=0

if [[ -n "$leftovers" && -s "$leftovers" ]]; then
    echo "check-no-leftover-peers: the tests left peers running (killed when the test process exited):" >&2
    cat "$leftovers" >&2
    failed=1
fi

# The processes (not zombies: their environment reads empty) whose environment has the marker.
survivors() {
    local dir
    for dir in /proc/[0-9]*; do
        if { tr '\0' '\n' <"$dir/environ"; } 2>/dev/null | grep -qxF "CUTOVER_TEST_PEER=$marker"; then
            echo "${dir#/proc/}"
        fi
    done
}

found=$(survivors)
if [[ -n "$found" ]]; then
    # A process group killed as the test process exited may take a moment to go: look once more.
    sleep 1
    found=$(survivors)
fi
for pid in $found; do
    echo "check-no-leftover-peers: still running: pid $pid: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)" >&2
    kill -KILL "$pid" 2>/dev/null
    failed=1
done

if ((failed)); then
    exit 1
fi
echo "check-no-leftover-peers: no process the tests started is left"
