#!/usr/bin/env bash
# Creates (once) <repo>/.build/deploy-venv with scripts/deploy/requirements.txt: hadolint,
# kubernetes-validate, the Compose Specification's schema and jsonschema, which the deploy/ checks
# (Tests/CutoverIntegrationTests/Deploy*Tests.swift) run. The same machinery as the consumers' venv
# (locking, reuse while the requirements are unchanged, pip's output on failure).
#
# Usage: scripts/deploy/setup-venv.sh [REPO_ROOT]   prints the venv's python path on success.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../consumers/setup-venv.sh" "${1:-$(cd "$here/../.." && pwd)}" deploy
