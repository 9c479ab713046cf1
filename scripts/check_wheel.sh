#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv outside the checkout, and run the installed
# `daena` from an empty workspace with a temporary database: the shipped defaults (policy
# seed, example playbooks) must come from the wheel alone.
# Usage: scripts/check_wheel.sh [PYTHON]   (default python3)
set -euo pipefail
python=${1:-python3}
checkout="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$python" -m pip wheel -q --no-deps -w "$tmp/dist" "$checkout"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "$tmp"/dist/*.whl
mkdir "$tmp/workspace"
cd "$tmp/workspace"
export DAENA_DB_PATH="$tmp/state/daena.db" EXECUTION_WORKSPACE_ROOT="$tmp/workspace"
daena="$tmp/venv/bin/daena"

"$daena" --version
playbooks="$("$daena" tasks playbooks)"
echo "$playbooks"
for name in apply_reviewed_patch inspect_repo run_tests; do
  grep -q "^  $name " <<<"$playbooks" || { echo "wheel: playbook $name missing" >&2; exit 1; }
done
"$daena" --json tools list >"$tmp/tools.json"
"$daena" --json config show | "$tmp/venv/bin/python" -c '
import json, sys
shown = json.load(sys.stdin)["tool_enabled"]
seed = json.load(open(sys.argv[1]))["tool_enabled"]
registered = {t["name"] for t in json.load(open(sys.argv[2]))}
assert set(shown) == registered, f"tool_enabled {sorted(shown)} is not every tool"
wrong = sorted(k for k, v in seed.items() if k in shown and shown[k] != v)
assert not wrong, f"tool_enabled ignores the shipped seed for {wrong}"
print(f"tool_enabled: {len(shown)} tools, the shipped seed applied")
' "$checkout/config/execution_layer_config.json" "$tmp/tools.json"
"$daena" doctor >/dev/null
echo "wheel ok"
