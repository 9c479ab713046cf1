"""Task claims by workers (issue 21): N worker processes on M tasks, each task driven by
exactly one, on both backends; a killed worker's task taken over only once its owner is
known to be gone; on PostgreSQL a task another transaction holds is skipped, not waited for.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engine import Engine
from engine.tasks.claims import STALE_HEARTBEAT_SEC
from engine.tasks.playbooks import PlaybookStep
from tests.conftest import make_settings
from tests.engine.tasks.tasks_toolkit import make_registry

pytestmark = pytest.mark.no_postgres  # each test makes the database its workers share
ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
TASKS = 24


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: the SQLite file at db_path; else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    cluster = request.getfixturevalue("pg_cluster")
    yield cluster.fresh_database()


def settings_for(workspace: Path, db_path: Path, url: str | None) -> object:
    extra = {"DAENA_DB_URL": url} if url else {}
    return make_settings(workspace, db_path, **extra)


def start_worker(
    host: str, out: Path, url: str | None, db_path: Path, workspace: Path, go: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DAENA_DB_PATH": str(db_path),
        "EXECUTION_WORKSPACE_ROOT": str(workspace),
        "DAENA_SIM_START": str(go),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DAENA_DB_URL", None)
    if url:
        env["DAENA_DB_URL"] = url
    return subprocess.Popen(
        [sys.executable, "-m", "tests.postgres.claim_worker", host, str(out)], env=env, cwd=ROOT
    )


async def create_tasks(eng: Engine, count: int) -> list[str]:
    """Tasks of two steps; each step leaves one line in the task's own file."""
    ids = []
    for i in range(count):
        steps = [
            PlaybookStep(tool="append_line", args={"path": f"t{i}.txt", "line": f"{i} first"}),
            PlaybookStep(tool="append_line", args={"path": f"t{i}.txt", "line": f"{i} second"}),
        ]
        ids.append((await eng.tasks.create(f"task {i}", steps)).id)
    return ids


def test_each_task_is_driven_by_exactly_one_of_several_workers(
    db_url: str | None, tmp_path: Path, workspace: Path, db_path: Path
) -> None:
    settings = settings_for(workspace, db_path, db_url)

    async def prepare() -> list[str]:
        async with Engine.open(settings, registry=make_registry()) as eng:  # type: ignore[arg-type]
            return await create_tasks(eng, TASKS)

    task_ids = asyncio.run(prepare())
    go = tmp_path / "go"
    outs = [tmp_path / f"w{i}.json" for i in range(WORKERS)]
    procs = [
        start_worker(f"host-{i}", out, db_url, db_path, workspace, go) for i, out in enumerate(outs)
    ]
    go.touch()
    assert [p.wait(timeout=600) for p in procs] == [0] * WORKERS
    results = [json.loads(out.read_text()) for out in outs]
    driven = [r["driven"] for r in results]
    everyone = [task for ids in driven for task in ids]
    assert sorted(everyone) == sorted(task_ids)  # every task taken, none twice

    async def check() -> None:
        async with Engine.open(settings, registry=make_registry()) as eng:  # type: ignore[arg-type]
            assert (await eng.audit.verify()).ok
            rows = await eng.db.fetchall(
                "SELECT action, task_id, result_summary FROM audit WHERE task_id IS NOT NULL"
            )
            claims = Counter(r["task_id"] for r in rows if r["action"] == "task_running")
            runs = Counter(r["task_id"] for r in rows if r["action"] == "run")
            assert claims == dict.fromkeys(task_ids, 1)  # one claim each
            assert runs == dict.fromkeys(task_ids, 2)  # each step ran once
            for task_id in task_ids:
                task = await eng.tasks.get(task_id)
                assert task.status == "completed", task
                host = next(r["host"] for r in results if task_id in r["driven"])
                assert task.owner_host == host  # driven by the worker that claimed it

    asyncio.run(check())
    for i in range(TASKS):  # the tools' own trace: each step ran once, in order
        assert (workspace / f"t{i}.txt").read_text() == f"{i} first\n{i} second\n"


@pytest.mark.parametrize("tool", ["wait_low", "wait_medium"])
def test_a_killed_workers_task_is_taken_over_once_its_owner_is_gone(
    db_url: str | None, tool: str, tmp_path: Path, workspace: Path, db_path: Path
) -> None:
    """A read-only step the dead worker was running is run again and the task completes; a
    step that may have changed something (medium risk) is not: the task stops
    `interrupted`, asking the operator, and no worker takes it again."""
    settings = settings_for(workspace, db_path, db_url)
    other_host = db_url is not None  # PostgreSQL: the worker is on another host

    async def prepare() -> str:
        async with Engine.open(settings, registry=make_registry()) as eng:  # type: ignore[arg-type]
            await eng.update_config({"approval_mode": "auto"})  # medium risk runs unasked
            steps = [
                PlaybookStep(tool=tool, args={"line": "blocked step"}),
                PlaybookStep(tool="append_line", args={"path": "after.txt", "line": "after"}),
            ]
            return (await eng.tasks.create("held by a worker that dies", steps)).id

    task_id = asyncio.run(prepare())
    go = tmp_path / "go"
    go.touch()
    killed: list[int] = []

    async def kill_worker() -> None:
        """Worker A claims the task and blocks in its first step; then it is SIGKILLed."""
        worker = start_worker(
            "host-a" if other_host else ".", tmp_path / "a.json", db_url, db_path, workspace, go
        )
        killed.append(worker.pid)
        try:
            deadline = time.monotonic() + 120
            while not (workspace / "started.marker").exists():
                assert worker.poll() is None and time.monotonic() < deadline
                await asyncio.sleep(0.05)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)

    async def take_over() -> None:
        # This worker is running before A dies (one opened later finds the orphan at open:
        # engine.recovery marks it interrupted for the operator's resume).
        async with Engine.open(settings, registry=make_registry()) as eng:  # type: ignore[arg-type]
            await kill_worker()
            held = await eng.tasks.get(task_id)
            assert held.status == "running"
            if other_host:
                assert held.owner_host == "host-a"
                # Its process cannot be asked: while its heartbeat is fresh it is alive.
                assert await eng.tasks.run_next() is None
                assert (await eng.tasks.get(task_id)).owner == held.owner
                past = time.time() - STALE_HEARTBEAT_SEC - 5  # as if a minute went by
                await eng.db._conn.execute(  # type: ignore[attr-defined]
                    "UPDATE tasks SET heartbeat_at = ? WHERE id = ?", (past, task_id)
                )
                await eng.db._conn.execute(  # type: ignore[attr-defined]
                    "UPDATE run_leases SET heartbeat_at = ?", (past,)
                )
            (workspace / "release.marker").touch()
            task = await eng.tasks.run_next()
            assert task is not None and task.id == task_id
            assert task.owner == eng.tasks.runner.owner
            assert await eng.tasks.run_next() is None  # nothing else to take, nor this again
            rows = await eng.db.fetchall(
                "SELECT action, result_summary FROM audit WHERE task_id = ? AND "
                "action = 'task_running' ORDER BY id",
                (task_id,),
            )
            assert len(rows) == 2  # claimed by the worker, then taken over once
            assert rows[0]["result_summary"].startswith("claimed by worker")
            assert rows[1]["result_summary"].startswith("taken over by worker")
            assert f"pid {killed[0]}" in rows[1]["result_summary"]
            reaped = await eng.db.fetchall(
                "SELECT id FROM audit WHERE task_id = ? AND action = 'run_interrupted'", (task_id,)
            )
            if tool == "wait_low":
                assert task.status == "completed", task
                assert reaped == []  # a read-only run holds no lease
            else:
                assert task.status == "interrupted", task
                assert "may already have run" in (task.reason or "")
                assert len(reaped) == 1  # the dead worker's run got its outcome, once
            assert (await eng.audit.verify()).ok

    asyncio.run(take_over())
    if tool == "wait_low":  # it never finished in the dead worker: it ran once more
        assert (workspace / "trace.txt").read_text() == "blocked step\n"
        assert (workspace / "after.txt").read_text() == "after\n"
    else:  # not run again, nor the step after it
        assert not (workspace / "trace.txt").exists()
        assert not (workspace / "after.txt").exists()


async def test_a_task_another_transaction_holds_is_skipped_not_waited_for(
    pg_cluster: object, workspace: Path, db_path: Path
) -> None:
    url = pg_cluster.fresh_database()  # type: ignore[attr-defined]
    settings = settings_for(workspace, db_path, url)
    async with Engine.open(settings, registry=make_registry()) as eng:  # type: ignore[arg-type]
        first, second = await create_tasks(eng, 2)
        with psycopg.connect(url) as other:  # a transaction holding the oldest task's row
            other.execute("SELECT id FROM tasks WHERE id = %s FOR UPDATE", (first,))
            task = await asyncio.wait_for(eng.tasks.run_next(), 60)
            assert task is not None and task.id == second and task.status == "completed"
            other.rollback()
        task = await eng.tasks.run_next()
        assert task is not None and task.id == first
