"""Restart (engine/tasks/runner.py): a task whose process dies becomes `interrupted`; resuming never
runs a finished step again, and a step that may have run is re-run only when it is safe to."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tasks_helpers import OPERATOR, Start, audit_rows, write_playbook

from engine import Engine
from engine.tasks import StepStatus, TaskService, TaskStateError, TaskStatus


def lines(ws: Path) -> list[str]:
    path = ws / "trace.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def crash_playbook(playbook_dir: Path, waiting_tool: str) -> str:
    return write_playbook(
        playbook_dir,
        f"crash_{waiting_tool}",
        [
            {"tool": "append_line", "args": {"line": "a"}},
            {"tool": "append_line", "args": {"line": "b"}},
            {"tool": waiting_tool, "args": {"line": "w"}},
            {"tool": "append_line", "args": {"line": "c"}},
        ],
    )


async def kill_mid_step(
    start: Start, tasks: TaskService, workspace: Path, name: str
) -> tuple[str, int]:
    proc, task_id = start(name)
    await asyncio.to_thread(wait_for, (workspace / "started.marker").exists)
    # While the agent process lives, recovery leaves its task alone.
    assert await tasks.recover() == []
    assert (await tasks.get(task_id)).status == TaskStatus.RUNNING
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return task_id, proc.pid


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_killed_mid_step_medium_risk_needs_an_explicit_rerun(
    eng: Engine, tasks: TaskService, crashing: Start, playbook_dir: Path, workspace: Path
) -> None:
    name = crash_playbook(playbook_dir, "wait_medium")
    task_id, pid = await kill_mid_step(crashing, tasks, workspace, name)
    assert lines(workspace) == ["a", "b"]

    assert await tasks.recover() == [task_id]
    assert await tasks.recover() == []  # idempotent
    task = await tasks.get(task_id)
    assert task.status == TaskStatus.INTERRUPTED
    assert f"pid {pid}" in (task.reason or "")
    assert [s.status for s in task.steps] == [
        StepStatus.SUCCEEDED,
        StepStatus.SUCCEEDED,
        StepStatus.INTERRUPTED,
        StepStatus.PENDING,
    ]
    interrupted = await eng.db.fetchall(
        "SELECT actor FROM audit WHERE task_id = ? AND action = 'task_interrupted'", (task_id,)
    )
    assert [r["actor"] for r in interrupted] == ["system"]

    # The step may have had side effects: the operator must choose.
    with pytest.raises(TaskStateError, match=r"step 3 \(wait_medium, medium risk\).*--rerun"):
        await tasks.resume(task_id)
    assert (await tasks.get(task_id)).status == TaskStatus.INTERRUPTED

    (workspace / "release.marker").write_text("go")
    task = await tasks.resume(task_id, operator=OPERATOR, rerun_interrupted=True)
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert lines(workspace) == ["a", "b", "w", "c"]  # a and b were not run again
    runs = [(r["tool"], r["status"]) for r in await audit_rows(eng, task_id)]
    assert runs == [
        ("append_line", "ok"),
        ("append_line", "ok"),
        ("wait_medium", "ok"),  # the killed attempt was never audited as finished
        ("append_line", "ok"),
    ]
    assert task.steps[2].attempts == 2
    starts = [r["tool"] for r in await audit_rows(eng, task_id, action="run_start")]
    assert starts.count("wait_medium") == 2  # the killed attempt had started: hence the flag


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_killed_mid_step_low_risk_is_rerun_on_resume(
    eng: Engine, tasks: TaskService, crashing: Start, playbook_dir: Path, workspace: Path
) -> None:
    name = crash_playbook(playbook_dir, "wait_low")
    task_id, _ = await kill_mid_step(crashing, tasks, workspace, name)
    assert await tasks.recover() == [task_id]
    (workspace / "release.marker").write_text("go")
    task = await tasks.resume(task_id)
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert lines(workspace) == ["a", "b", "w", "c"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_skip_interrupted(
    eng: Engine, tasks: TaskService, crashing: Start, playbook_dir: Path, workspace: Path
) -> None:
    name = crash_playbook(playbook_dir, "wait_medium")
    task_id, _ = await kill_mid_step(crashing, tasks, workspace, name)
    await tasks.recover()
    task = await tasks.resume(task_id, skip_interrupted=True)
    assert task.status == TaskStatus.COMPLETED
    assert task.steps[2].status == StepStatus.SKIPPED
    assert lines(workspace) == ["a", "b", "c"]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def fake_crash(eng: Engine, task_id: str, step_index: int, **step_fields: object) -> None:
    """Make the DB look as if the owner died while step `step_index` was running."""
    sets = ", ".join(f"{k} = ?" for k in step_fields)
    async with eng.db.transaction() as tx:
        await tx.execute(
            f"UPDATE task_steps SET status = 'running'{', ' + sets if sets else ''} "
            "WHERE task_id = ? AND idx = ?",
            (*step_fields.values(), task_id, step_index),
        )
        await tx.execute(
            "UPDATE tasks SET status = 'running', owner = 'gone', owner_pid = ?, owner_host = ?, "
            "run_started_at = ?, heartbeat_at = ? WHERE id = ?",
            (dead_pid(), socket.gethostname(), time.time(), time.time(), task_id),
        )


async def test_a_step_whose_run_was_audited_is_adopted_not_rerun(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    """Died after the run was audited but before the step was updated."""
    write_playbook(
        playbook_dir,
        "two",
        [
            {"tool": "append_line", "args": {"line": "a"}},
            {"tool": "risky_append", "args": {"line": "b"}},
        ],
    )
    await eng.update_config({"approval_mode": "auto"}, operator=OPERATOR)
    task = await tasks.run((await tasks.create_from_playbook("two")).id)
    assert task.status == TaskStatus.COMPLETED
    await fake_crash(eng, task.id, 1, result_summary=None, audit_id=None)
    assert await tasks.recover() == [task.id]
    task = await tasks.resume(task.id)  # medium risk, but its run is in the audit log
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert lines(workspace) == ["a", "b"]
    assert task.steps[1].status == StepStatus.SUCCEEDED and task.steps[1].audit_id
    assert len(await audit_rows(eng, task.id)) == 2


async def test_a_step_that_never_started_is_run_without_asking(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    """Died after the step was marked running but before the executor recorded run_start."""
    write_playbook(playbook_dir, "one", [{"tool": "risky_append", "args": {"line": "b"}}])
    await eng.update_config({"approval_mode": "auto"}, operator=OPERATOR)
    task = await tasks.create_from_playbook("one")
    await fake_crash(eng, task.id, 0, attempts=1, audit_mark=await eng.audit.last_id())
    assert await tasks.recover() == [task.id]
    task = await tasks.resume(task.id)  # medium risk, but nothing of it ever ran
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert lines(workspace) == ["b"]


async def test_a_crash_right_after_the_approval_request_keeps_waiting(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(playbook_dir, "one", [{"tool": "risky_append", "args": {"line": "b"}}])
    task = await tasks.run((await tasks.create_from_playbook("one")).id)
    request_id = task.steps[0].approval_request_id
    assert task.status == TaskStatus.WAITING_APPROVAL and request_id
    await fake_crash(eng, task.id, 0, approval_request_id=None)
    assert await tasks.recover() == [task.id]
    task = await tasks.resume(task.id)
    assert task.status == TaskStatus.WAITING_APPROVAL
    assert task.steps[0].approval_request_id == request_id  # found again in the audit log
    assert len(await eng.pending_approvals()) == 1  # no second request
    await eng.approve(request_id, operator=OPERATOR)
    task = await tasks.resume(task.id)
    assert task.status == TaskStatus.COMPLETED
    assert lines(workspace) == ["b"]


async def test_cancel_while_running_stops_after_the_current_step(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(
        playbook_dir,
        "long",
        [
            {"tool": "wait_low", "args": {"line": "w"}},
            {"tool": "append_line", "args": {"line": "c"}},
        ],
    )
    task = await tasks.create_from_playbook("long")
    running = asyncio.create_task(tasks.run(task.id))
    await asyncio.to_thread(wait_for, (workspace / "started.marker").exists)
    assert await tasks.recover() == []  # driven by this process: left alone
    cancelled = await tasks.cancel(task.id, operator=OPERATOR)
    assert cancelled.status == TaskStatus.CANCELLED
    (workspace / "release.marker").write_text("go")
    final = await asyncio.wait_for(running, 10)
    assert final.status == TaskStatus.CANCELLED
    assert final.steps[0].status == StepStatus.SUCCEEDED  # the running step's outcome is kept
    assert final.steps[1].status == StepStatus.PENDING
    assert lines(workspace) == ["w"]


async def test_a_stopped_run_leaves_the_task_interrupted(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(playbook_dir, "long", [{"tool": "wait_low", "args": {"line": "w"}}])
    task = await tasks.create_from_playbook("long")
    running = asyncio.create_task(tasks.run(task.id))
    await asyncio.to_thread(wait_for, (workspace / "started.marker").exists)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    task = await tasks.get(task.id)
    assert task.status == TaskStatus.INTERRUPTED
    assert task.steps[0].status == StepStatus.INTERRUPTED
    (workspace / "release.marker").write_text("go")
    task = await tasks.resume(task.id)
    assert task.status == TaskStatus.COMPLETED
    assert lines(workspace) == ["w"]


async def test_recover_ignores_live_foreign_owners_with_fresh_heartbeats(
    eng: Engine, tasks: TaskService, playbook_dir: Path
) -> None:
    write_playbook(playbook_dir, "one", [{"tool": "append_line", "args": {"line": "a"}}])
    task = await tasks.create_from_playbook("one")
    async with eng.db.transaction() as tx:
        await tx.execute(
            "UPDATE tasks SET status = 'running', owner = 'elsewhere', owner_pid = 1, "
            "owner_host = 'another-host', heartbeat_at = ? WHERE id = ?",
            (time.time(), task.id),
        )
    assert await tasks.recover() == []
    async with eng.db.transaction() as tx:
        await tx.execute(
            "UPDATE tasks SET heartbeat_at = ? WHERE id = ?", (time.time() - 3600, task.id)
        )
    assert await tasks.recover() == [task.id]
