"""The console started as an operator starts it, in a real terminal (tmux), until it exits."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path


def console_exit_output(tmp_path: Path, workspace: Path, db: Path, env: str) -> str:
    """Run `python -m daena_tui` in `workspace` with `env` (shell assignments) and
    DAENA_DB_PATH=`db` in a detached tmux session; returns what it wrote on stderr (where
    Textual draws) followed by `EXIT=<code>`, once it has exited (60 s at most)."""
    session = f"daena-exit-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "out.txt"
    command = (
        f"cd {workspace} && {env} DAENA_DB_PATH={db} "
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
    return out.read_text()
