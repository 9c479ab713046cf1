"""The database file itself (docs/reliability.md): a write is acknowledged only while the file at
the configured path is still the one the process opened, and `daena doctor` runs SQLite's own page
checks. Real processes, real files."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import Engine, Settings
from tests.conftest import make_settings

pytestmark = pytest.mark.no_postgres  # the SQLite database file itself

# Runs one tool per line read from stdin and acknowledges each on stdout, so the test can
# change the files between two writes.
LOCKSTEP = textwrap.dedent(
    """
    import asyncio, sys
    from engine import Engine, StorageError, load_settings

    async def main(db, ws):
        settings = load_settings(env_file=None, DAENA_DB_PATH=db, EXECUTION_WORKSPACE_ROOT=ws)
        async with Engine.open(settings) as eng:
            while sys.stdin.readline():
                try:
                    result = await eng.run("filesystem_read", {"path": "README.md"})
                except StorageError as err:
                    print("error", err.message, flush=True)
                    sys.exit(3)
                print("ack", result.audit_id, flush=True)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def other_database(tmp_path: Path, workspace: Path) -> Path:
    """Another valid Daena database (created on first call)."""
    path = tmp_path / "other" / "daena.db"
    if path.exists():
        return path

    async def create() -> None:
        async with Engine.open(make_settings(workspace, path)) as eng:
            await eng.run("git_status")

    asyncio.run(create())
    return path


def lose(db_path: Path, how: str, tmp_path: Path, workspace: Path) -> None:
    if how == "deleted":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink()
    elif how == "replaced":
        os.replace(other_database(tmp_path, workspace), db_path)
    elif how == "wal_removed":
        Path(f"{db_path}-wal").unlink()


@pytest.mark.skipif(sys.platform == "win32", reason="open files cannot be deleted there")
@pytest.mark.parametrize("how", ["deleted", "replaced", "wal_removed"])
def test_no_write_is_acknowledged_once_the_file_is_not_the_one_opened(
    settings: Settings, workspace: Path, db_path: Path, tmp_path: Path, how: str
) -> None:
    if how == "replaced":
        other_database(tmp_path, workspace)  # created before the writer starts
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKSTEP, str(db_path), str(workspace)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for _ in range(5):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline().startswith("ack"), proc.stderr
        lose(db_path, how, tmp_path, workspace)
        answers = []
        for _ in range(3):  # it must not go on acknowledging into a file nobody will read
            proc.stdin.write("go\n")
            proc.stdin.flush()
            answers.append(proc.stdout.readline())
            if not answers[-1].startswith("ack"):
                break
        assert answers[0].startswith("error"), answers
        assert "no longer the one" in answers[0]
        assert proc.wait(timeout=60) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def corrupt_index(db_path: Path, index: str) -> None:
    """Overwrite the root page of `index` with garbage (no connection open)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,))
    conn.close()
    with db_path.open("r+b") as fh:
        fh.seek((int(root[0]) - 1) * page_size)
        fh.write(b"\x55" * page_size)


def test_doctor_runs_sqlites_page_checks(
    settings: Settings, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from daena_tui.cli import main

    base = ["--db", str(db_path), "--workspace", str(settings.execution_workspace_root)]
    assert main([*base, "doctor"]) == 0
    assert "database integrity" in capsys.readouterr().out
    corrupt_index(db_path, "audit_by_ts")
    code = main([*base, "doctor"])
    out = capsys.readouterr().out
    assert code == 1
    assert "audit chain" in out  # the chain itself reads fine: only SQLite's check sees it
    assert "database integrity" in out and "FAILED" in out
    assert main([*base, "doctor", "--full"]) == 1
    assert "FAILED integrity_check" in capsys.readouterr().out
