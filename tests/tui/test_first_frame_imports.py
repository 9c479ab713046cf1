"""What `daena` imports before its first frame: Textual and the console's own shell, not the
engine's policy, storage or pydantic (they load in a thread once the frame is drawn;
benchmarks/bench_console_start.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys

BEFORE_FIRST_FRAME = ("engine.policy", "engine.audit", "engine.storage", "pydantic", "aiosqlite")


def test_the_console_module_leaves_the_engine_for_after_the_first_frame() -> None:
    code = (
        "import json, sys\n"
        "import daena_tui.cli.dispatch, daena_tui.console.app\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    modules = json.loads(proc.stdout)
    assert "textual.app" in modules
    assert not [m for m in modules if m.startswith(BEFORE_FIRST_FRAME)]
