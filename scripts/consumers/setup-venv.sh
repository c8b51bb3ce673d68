#!/usr/bin/env bash
# Creates (once) a Python virtual environment the webhook tests run real consumers in. Two sets:
# - `consumers` (the default): <repo>/.build/consumers-venv with the pinned packages of
#   requirements.txt (pywa 3.9, cloudevents, standardwebhooks, jsonschema, ...);
# - `pywa4`: <repo>/.build/consumers-venv-pywa4 with requirements-pywa4.txt (pywa 4.x, which
#   cannot share a venv with 3.9);
# - `deploy`: <repo>/.build/deploy-venv with scripts/deploy/requirements.txt (the deploy/ checkers);
# - `cockpit`: <repo>/.build/cockpit-venv with scripts/cockpit/requirements.txt (websocket-client, for
#   scripts/cockpit/cdp.py, which drives headless Chromium in the cockpit tests).
# The checking scripts are scripts/consumers/*.py, run with the venv's python.
#
# Idempotent and safe when several processes call it at once (flock on a lock file next to the
# venv). A ready venv is reused as long as its requirements file is unchanged. On failure the pip output
# is printed and the exit status is non-zero (the tests fail with it; they never skip).
#
# Usage: scripts/consumers/setup-venv.sh [REPO_ROOT [SET]]   prints the venv's python path on success.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${1:-$(cd "$here/../.." && pwd)}"
case "${2:-consumers}" in
    consumers) venv="$root/.build/consumers-venv"; requirements="$here/requirements.txt" ;;
    pywa4) venv="$root/.build/consumers-venv-pywa4"; requirements="$here/requirements-pywa4.txt" ;;
    deploy) venv="$root/.build/deploy-venv"; requirements="$here/../deploy/requirements.txt" ;;
    cockpit) venv="$root/.build/cockpit-venv"; requirements="$here/../cockpit/requirements.txt" ;;
    *) echo "setup-venv: unknown set '$2' (consumers, pywa4, deploy or cockpit)" >&2; exit 2 ;;
esac
python="${CUTOVER_PYTHON:-python3}"

mkdir -p "$root/.build"
# One lock per venv: the two sets can be made at the same time, each only once.
exec 9>"$venv.lock"
flock 9

stamp="$venv/.cutover-ready"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]]; then
    echo "$venv/bin/python"
    exit 0
fi

rm -rf "$venv"
log="$venv.log"
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
