"""DESIGN.md boundaries: the engine never loads the UI.

(`rich` is not checked: httpx imports it for its own command line when it is installed.)
"""

from __future__ import annotations

import subprocess
import sys


def test_engine_does_not_load_textual() -> None:
    code = (
        "import sys, engine, engine.engine, engine.runs;"
        "ui = ('textual', 'daena_tui', 'node_server');"
        "bad = [m for m in sys.modules if m.split('.')[0] in ui];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
