"""A database that vanished, lost its -wal tail or was swapped for an older copy, between two
processes (docs/reliability.md): never a silent fresh start, never "audit chain ok". Real processes
killed with SIGKILL, real files."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from daena_tui.cli import main
from engine import Engine, Settings
from engine.audit_head import key_path
from engine.storage.known import marker_path
from tests.conftest import make_settings
from tests.reliability.test_database_file import corrupt_index

pytestmark = pytest.mark.no_postgres  # the SQLite database file itself

# Runs N audited tools, says so, then waits to be killed: its WAL is never checkpointed.
RUN_THEN_HANG = textwrap.dedent(
    """
    import asyncio, sys
    from engine import Engine, load_settings

    async def main(db, ws, n):
        settings = load_settings(env_file=None, DAENA_DB_PATH=db, EXECUTION_WORKSPACE_ROOT=ws)
        async with Engine.open(settings) as eng:
            for _ in range(n):
                result = await eng.run("filesystem_read", {"path": "README.md"})
                assert result.ok, result
            print("acknowledged", result.audit_id, flush=True)
            await asyncio.sleep(3600)
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def cli(settings: Settings, *words: str) -> list[str]:
    return [
        "--db",
        str(settings.daena_db_path),
        "--workspace",
        str(settings.execution_workspace_root),
        *words,
    ]


def run_and_kill(settings: Settings, n: int) -> int:
    """Acknowledge `n` runs in a process, then SIGKILL it; the newest acknowledged id."""
    argv = [sys.executable, "-c", RUN_THEN_HANG, str(settings.daena_db_path)]
    proc = subprocess.Popen(
        [*argv, str(settings.execution_workspace_root), str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        assert line.startswith("acknowledged"), proc.stderr.read() if proc.stderr else line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return int(line.split()[1])


def open_once(settings: Settings) -> None:
    async def touch() -> None:
        async with Engine.open(settings) as eng:
            await eng.run("git_status")

    asyncio.run(touch())


def remove_database(db: Path, *suffixes: str) -> None:
    for suffix in suffixes:
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def test_the_engine_syncs_every_commit(settings: Settings) -> None:
    async def setting() -> int:
        async with Engine.open(settings) as eng:
            row = await eng.db.fetchone("PRAGMA synchronous")
            assert row is not None
            return int(row[0])

    assert asyncio.run(setting()) == 2  # FULL: acknowledged means on disk (docs/reliability.md)


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_vanished_database_is_an_error_naming_it_not_a_fresh_start(
    settings: Settings, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    db = settings.daena_db_path
    assert not db.exists()
    assert main(cli(settings, "audit", "verify")) == 0  # first use creates it
    run_and_kill(settings, 3)
    remove_database(db, "-wal", "-shm")
    if how == "deleted":
        remove_database(db, "")
    else:
        db.write_bytes(b"")
    capsys.readouterr()
    assert main(cli(settings, "audit", "verify")) != 0
    err = capsys.readouterr().err
    assert str(db) in err and "deleted or moved" in err, err
    assert "Traceback" not in err
    assert not db.exists() or db.stat().st_size == 0  # nothing was created in its place
    assert str(key_path(db)) in err
    marker_path(db).unlink()  # the operator's explicit fresh start, as the error says
    key_path(db).unlink()
    assert main(cli(settings, "audit", "verify")) == 0
    assert db.stat().st_size > 0


def test_a_lost_wal_tail_is_reported_by_audit_verify(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    db = settings.daena_db_path
    open_once(settings)  # the main file holds the start (closing checkpoints it)
    newest = run_and_kill(settings, 20)  # these 20 are only in the -wal file
    assert Path(f"{db}-wal").stat().st_size > 0
    remove_database(db, "-wal", "-shm")  # a "backup" of the main file alone, restored

    async def chain_alone() -> bool:
        async with Engine.open(settings) as eng:
            return (await eng.audit.verify()).ok

    # The chain and its head live in the same file and were lost together: they agree.
    assert asyncio.run(chain_alone())
    capsys.readouterr()
    assert main(cli(settings, "audit", "verify")) == 1
    out = capsys.readouterr().out
    assert "audit records LOST" in out and f"to {newest}" in out, out
    open_once(settings)  # appending more does not wash the loss away
    assert main(cli(settings, "audit", "verify")) == 1
    assert "audit records LOST" in capsys.readouterr().out


def test_an_older_copy_moved_over_the_database_is_reported(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = settings.daena_db_path
    open_once(settings)
    shutil.copy(db, tmp_path / "old.db")  # closed and checkpointed: a complete copy
    open_once(settings)
    os.replace(tmp_path / "old.db", db)
    capsys.readouterr()
    assert main(cli(settings, "audit", "verify")) == 1
    assert "audit records LOST" in capsys.readouterr().out


def test_audit_verify_runs_sqlites_page_check(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    open_once(settings)
    corrupt_index(settings.daena_db_path, "audit_by_ts")
    capsys.readouterr()
    assert main(cli(settings, "audit", "verify")) == 1
    out = capsys.readouterr().out
    assert "FAILED quick_check" in out and "audit chain ok" in out, out


async def test_no_tool_reaches_the_marker(workspace: Path) -> None:
    """The marker is named after the database, so it is one of the console's own files."""
    settings = make_settings(workspace, workspace / "state" / "daena.db")
    async with Engine.open(settings) as eng:
        await eng.update_config(
            {"approval_mode": "auto", "tool_enabled": {"filesystem_write": True}}
        )
        assert marker_path(settings.daena_db_path).exists()
        read = await eng.run("filesystem_read", {"path": "state/daena.db.known"})
        write = await eng.run("filesystem_write", {"path": "state/daena.db.known", "content": "{}"})
    assert read.status == "refused" and write.status == "refused", (read, write)
    assert "audit_id" in marker_path(settings.daena_db_path).read_text()
