"""Storage (docs/reliability.md): WAL, migrations, several processes on one file, events across
processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import ApprovalRequested, Engine, Settings, StorageError
from engine.storage.migrations import MIGRATIONS

WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from engine import Engine, load_settings

    async def main(db, ws, n):
        settings = load_settings(env_file=None, DAENA_DB_PATH=db, EXECUTION_WORKSPACE_ROOT=ws)
        async with Engine.open(settings) as eng:
            for i in range(n):
                who = f"worker{sys.argv[4]}"
                result = await eng.run("git_status", dry_run=(i % 2 == 0), requester=who)
                assert result.audit_id, result
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


@pytest.mark.no_postgres  # SQLite's own pragmas (WAL, foreign keys, user_version)
async def test_pragmas_and_schema(eng: Engine) -> None:
    assert (await eng.db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
    assert (await eng.db.fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
    assert await eng.db.user_version() == len(MIGRATIONS)


async def test_reopen_is_idempotent(settings: Settings) -> None:
    for _ in range(3):
        async with Engine.open(settings) as eng:
            await eng.run("git_status")
    async with Engine.open(settings) as eng:
        seeds = await eng.db.fetchall("SELECT id FROM audit WHERE action = 'config_seed'")
        assert len(seeds) == 1


def test_two_processes_write_at_once_without_locking_errors(
    settings: Settings, workspace: Path, db_path: Path
) -> None:
    asyncio.run(_init(settings))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db_path), str(workspace), "150", str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert "locked" not in err
    counts, report = asyncio.run(_counts(settings))
    assert counts == {"worker0": 150, "worker1": 150}
    assert report.ok


async def _init(settings: Settings) -> None:
    async with Engine.open(settings):
        pass


async def _counts(settings: Settings):  # type: ignore[no-untyped-def]
    async with Engine.open(settings) as eng:
        rows = await eng.db.fetchall(
            "SELECT actor, COUNT(*) FROM audit WHERE action IN ('run','dry_run') GROUP BY actor"
        )
        return {r[0]: r[1] for r in rows}, await eng.audit.verify()


async def test_events_from_another_process_reach_the_bus(
    settings: Settings, workspace: Path, db_path: Path
) -> None:
    async with Engine.open(settings, watch=True) as eng:
        await eng.set_tool_enabled("filesystem_write", True)
        with eng.bus.subscription() as queue:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "daena_tui",
                "--db",
                str(db_path),
                "--workspace",
                str(workspace),
                "run",
                "filesystem_write",
                "--arg",
                "path=x.txt",
                "--arg",
                "content=hi",
                "--requester",
                "agent",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate()
            assert proc.returncode == 3, err
            event = await asyncio.wait_for(_first(queue, ApprovalRequested), timeout=10)
        assert event.tool == "filesystem_write" and event.requester == "agent"


async def _first(queue: asyncio.Queue, kind: type):  # type: ignore[type-arg, no-untyped-def]
    while True:
        event = await queue.get()
        if isinstance(event, kind):
            return event


@pytest.mark.no_postgres  # a corrupt SQLite file
async def test_corrupt_database_gives_clear_error(workspace: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    settings = Settings(EXECUTION_WORKSPACE_ROOT=workspace, DAENA_DB_PATH=bad, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(StorageError, match="DAENA_DB_PATH"):
        async with Engine.open(settings):
            pass


@pytest.mark.no_postgres  # where the SQLite file would be created
async def test_unwritable_database_location(workspace: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = Settings(
        EXECUTION_WORKSPACE_ROOT=workspace, DAENA_DB_PATH=blocker / "sub" / "d.db", _env_file=None
    )  # type: ignore[call-arg]
    with pytest.raises(StorageError, match="cannot open database"):
        async with Engine.open(settings):
            pass


@pytest.mark.no_postgres  # set through SQLite's user_version pragma
async def test_newer_schema_refused(settings: Settings) -> None:
    async with Engine.open(settings) as eng:
        await eng.db._conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    with pytest.raises(StorageError, match="newer Daena"):
        async with Engine.open(settings):
            pass


async def test_missing_workspace_is_a_config_error(tmp_path: Path) -> None:
    from engine import ConfigError

    settings = Settings(
        EXECUTION_WORKSPACE_ROOT=tmp_path / "nope", DAENA_DB_PATH=tmp_path / "d.db", _env_file=None
    )  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="EXECUTION_WORKSPACE_ROOT"):
        async with Engine.open(settings):
            pass


@pytest.mark.no_postgres  # SQLite's own query plans
async def test_task_lookups_use_the_task_index_that_holds_only_task_records(eng: Engine) -> None:
    """Migration 19 indexes `audit.task_id` only where there is one (a run outside a task
    writes no page of it); the queries that look a task's records up still use it."""
    from engine.tasks.store import TaskStore

    await eng.run("git_status", dry_run=True)  # no task
    await eng.run("git_status", dry_run=True, task_id="task_1")
    seen: list[str] = []

    def trace(on: bool) -> object:
        return eng.db.read(lambda raw: raw.set_trace_callback(seen.append if on else None))

    await trace(True)
    records = await eng.audit.of_run(task_id="task_1")
    found = await TaskStore(eng.db, eng.audit, eng.clock).newest_step_record(
        "task_1", "git_status", 0, ("dry_run",)
    )
    await trace(False)
    assert [r.task_id for r in records] == ["task_1"] and found == records[0].id
    lookups = [sql for sql in seen if "task_id = " in sql]
    assert len(lookups) == 2, seen
    for sql in lookups:
        plan = " ".join(str(r[3]) for r in await eng.db.fetchall(f"EXPLAIN QUERY PLAN {sql}"))
        assert "INDEX audit_by_task (task_id=?" in plan, (sql, plan)
    entries = await eng.db.fetchone(  # the index's own entries, page by page
        "SELECT SUM(ncell) FROM dbstat WHERE name = 'audit_by_task' AND pagetype = 'leaf'"
    )
    total = await eng.db.fetchone("SELECT COUNT(*) FROM audit")
    assert entries is not None and total is not None and entries[0] == 1 < total[0]
