#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv outside the checkout, and run the installed
# `daena` from an empty workspace with a temporary database: the shipped defaults (policy
# seed, example playbooks) must come from the wheel alone; then a headless console start.
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
"$tmp/venv/bin/daena-node" --version  # the console's install carries the node too
"$tmp/venv/bin/python" -c '
from engine import load_settings
from engine.defaults import example_playbooks_dir
from engine.safety.protected import protected_for_settings
shipped = example_playbooks_dir() / "run_tests.json"
assert "site-packages" in str(shipped), shipped
assert protected_for_settings(load_settings(env_file=None)).covers(shipped.resolve()), shipped
print("the installed config is protected from tools")
'
# the console starts headless and opens its engine from the installed package alone
"$tmp/venv/bin/python" - <<'PY'
import asyncio

from daena_tui.console.app import create_app
from engine import load_settings


async def main() -> None:
    app = create_app(load_settings(env_file=None), probe_nodes=False)
    async with app.run_test() as pilot:
        for _ in range(400):  # bounded: 400 pauses of 50 ms
            if app.engine is not None:
                break
            await pilot.pause(0.05)
        assert app.engine is not None, "the console did not open its engine"
        await pilot.press("ctrl+q")


asyncio.run(main())
print("console ok")
PY
echo "wheel ok"
