#!/usr/bin/env bash
# Start the Daena node server on Linux/macOS.
# Arguments pass through to `python -m node_server`, e.g.
#   scripts/start_node.sh --workspace ~/work/repo --port 18888
# Python: the active virtualenv, else .venv next to the repo, else python3/python on PATH.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ -n "${VIRTUAL_ENV:-}" && -x "${VIRTUAL_ENV}/bin/python" ]]; then
    python="${VIRTUAL_ENV}/bin/python"
elif [[ -x "${repo_root}/.venv/bin/python" ]]; then
    python="${repo_root}/.venv/bin/python"
elif command -v python3 >/dev/null 2>&1; then
    python="python3"
elif command -v python >/dev/null 2>&1; then
    python="python"
else
    echo "daena-node: no Python found: create ${repo_root}/.venv or install Python 3.11+" >&2
    exit 2
fi

# Importable from a checkout even when the package is not installed.
export PYTHONPATH="${repo_root}${PYTHONPATH:+:${PYTHONPATH}}"
exec "${python}" -m node_server "$@"
