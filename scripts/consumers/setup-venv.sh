#!/usr/bin/env bash
# Creates (once) the Python virtual environment the webhook tests run real consumers in:
# <repo>/.build/consumers-venv with the pinned packages of requirements.txt (pywa, cloudevents,
# standardwebhooks, jsonschema). The checking scripts are scripts/consumers/*.py, run with this
# venv's python.
#
# Idempotent and safe when several processes call it at once (flock on a lock file next to the
# venv). A ready venv is reused as long as requirements.txt is unchanged. On failure the pip output
# is printed and the exit status is non-zero (the tests fail with it; they never skip).
#
# Usage: scripts/consumers/setup-venv.sh [REPO_ROOT]   prints the venv's python path on success.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${1:-$(cd "$here/../.." && pwd)}"
venv="$root/.build/consumers-venv"
requirements="$here/requirements.txt"
python="${CUTOVER_PYTHON:-python3}"

mkdir -p "$root/.build"
exec 9>"$root/.build/consumers-venv.lock"
flock 9

stamp="$venv/.cutover-ready"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]]; then
    echo "$venv/bin/python"
    exit 0
fi

rm -rf "$venv"
log="$root/.build/consumers-venv.log"
if ! "$python" -m venv "$venv" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup-venv: '$python -m venv $venv' failed" >&2
    exit 1
fi
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$requirements" >>"$log" 2>&1; then
    cat "$log" >&2
    echo "setup-venv: pip install -r $requirements failed" >&2
    rm -rf "$venv"
    exit 1
fi
echo "$want" >"$stamp"
echo "$venv/bin/python"
