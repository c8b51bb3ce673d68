#!/usr/bin/env bash
# Heavy webhook bodies from 1 and 4 senders against /healthz latency (see the Python script's
# docstring). Loopback only, bounded: STRESS_SECONDS per phase (default 10).
# Usage: scripts/stress-heavy-bodies.sh [path/to/cutover]   (default .build/release/cutover)
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/stress-heavy-bodies.py --binary "${1:-${CUTOVER_BINARY:-.build/release/cutover}}" \
    --senders "${STRESS_SENDERS:-1,4}" --seconds "${STRESS_SECONDS:-10}"
