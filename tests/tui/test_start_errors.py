"""The console loads its settings after the first frame; a bad value must still end it
with one clear line and exit code 2 (in a real terminal, driven through tmux)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def test_bad_setting_ends_the_console_with_one_line(tmp_path: Path, workspace: Path) -> None:
    session = f"daena-bad-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "out.txt"
    command = (
        f"cd {workspace} && SECURITY_LOCKDOWN_MODE=sometimes DAENA_DB_PATH={tmp_path / 'd.db'} "
        f"{sys.executable} -m daena_tui 2> {out}; echo EXIT=$? >> {out}"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "20", command], check=True
    )
    try:
        deadline = time.monotonic() + 60
        while "EXIT=" not in (out.read_text() if out.exists() else ""):
            assert time.monotonic() < deadline, "the console did not exit"
            time.sleep(0.1)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    text = out.read_text()
    assert "EXIT=2" in text
    assert "Configuration error: SECURITY_LOCKDOWN_MODE" in text
    assert "Traceback" not in text
