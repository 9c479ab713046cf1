"""Run scripts/tui_e2e.sh: the real console in tmux, driven by keys (skipped without tmux)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "tui_e2e.sh"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tui_e2e_script() -> None:
    # A stale exported size, as a test runner or a parent shell leaves it: the console must
    # still lay out at the pane's real 120x36.
    env = {**os.environ, "PYTHON": sys.executable, "COLUMNS": "80", "LINES": "24"}
    proc = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tui_e2e: PASSED" in proc.stdout
