"""Long audit commands show progress on a terminal and nothing on a pipe; `daena audit
verify` is incremental by default and `--full` re-checks everything."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from daena_tui.cli.progress import progress_bar
from tests.support.raw_db import raw_db

CLI = [sys.executable, "-m", "daena_tui"]


def daena(workspace: Path, db: Path, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAENA_OPERATOR": "op@test"}
    base = [*CLI, "--db", str(db), "--workspace", str(workspace)]
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [*base, *argv], env=env, text=True, timeout=120, **kw
    )


def test_nothing_on_a_pipe() -> None:
    stream = io.StringIO()
    with progress_bar("working", stream) as update:
        assert update is None
    assert stream.getvalue() == ""


def read_until(fd: int, text: str, timeout: float = 10.0) -> str:
    """What the terminal shows, read until `text` (a pty hands writes over in pieces: one
    read may hold only the cursor-hiding escape)."""
    shown = ""
    while text not in shown and select.select([fd], [], [], timeout)[0]:
        shown += os.read(fd, 65536).decode(errors="replace")
    return shown


def test_a_bar_on_a_terminal() -> None:
    leader, follower = pty.openpty()
    with os.fdopen(follower, "w") as terminal:
        with progress_bar("working", terminal) as update:
            assert update is not None
            update(5, 10)
            update(10, 10)
        terminal.flush()
        shown = read_until(leader, "working")
    os.close(leader)
    assert "working" in shown


def test_export_to_a_pipe_carries_only_the_records(workspace: Path, db_path: Path) -> None:
    assert daena(workspace, db_path, "run", "git_status", capture_output=True).returncode == 0
    done = daena(workspace, db_path, "audit", "export", capture_output=True)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines and all(json.loads(line)["hash"] for line in lines)


def test_verify_is_incremental_after_a_full_one_and_full_on_request(
    workspace: Path, db_path: Path
) -> None:
    daena(workspace, db_path, "run", "git_status", capture_output=True)
    first = daena(workspace, db_path, "--json", "audit", "verify", capture_output=True)
    report = json.loads(first.stdout)
    assert first.returncode == 0 and report["extra"]["mode"] == "full", first.stderr
    assert report["quick_check"] == ["ok"]
    daena(workspace, db_path, "run", "git_status", capture_output=True)
    again = daena(workspace, db_path, "audit", "verify", capture_output=True)
    assert again.returncode == 0 and "records after record" in again.stdout, again.stdout
    with raw_db(db_path) as conn:
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2")
    full = daena(workspace, db_path, "audit", "verify", "--full", capture_output=True)
    assert full.returncode == 1 and "BROKEN at record 2" in full.stdout
    incremental = daena(workspace, db_path, "audit", "verify", capture_output=True)
    assert incremental.returncode == 1 and "BROKEN at record 2" in incremental.stdout
