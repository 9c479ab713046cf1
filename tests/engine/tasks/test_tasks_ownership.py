"""Who owns a task and its running step (engine/tasks/runner.py): a live owner on this machine keeps
its task however old its heartbeat looks (a suspended process, another process's clock running
ahead), and a step is never run again while its previous run may still be going."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tasks_helpers import OPERATOR, Start, audit_rows, write_playbook
from test_tasks_restart import lines, wait_for

from engine import Engine
from engine.errors import InputError
from engine.liveness import process_token
from engine.tasks import StepStatus, TaskService, TaskStateError, TaskStatus

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP")
STEPS = [
    {"tool": "append_line", "args": {"line": "a"}},
    {"tool": "wait_medium", "args": {"line": "w"}},
    {"tool": "append_line", "args": {"line": "c"}},
]


async def start_and_stop(
    crashing: Start, playbook_dir: Path, workspace: Path
) -> tuple[subprocess.Popen[str], str]:
    """The task's process blocks in step 2 and is then suspended (SIGSTOP, as Ctrl-Z does)."""
    proc, task_id = crashing(write_playbook(playbook_dir, "suspended", STEPS))
    await asyncio.to_thread(wait_for, (workspace / "started.marker").exists)
    proc.send_signal(signal.SIGSTOP)
    return proc, task_id


async def age_heartbeat(eng: Engine, task_id: str, **columns: object) -> None:
    """As if the owner had been stopped for an hour, or the reader's clock ran an hour ahead."""
    sets = "".join(f", {k} = ?" for k in columns)
    async with eng.db.transaction() as tx:
        await tx.execute(
            f"UPDATE tasks SET heartbeat_at = ?{sets} WHERE id = ?",
            (time.time() - 3600, *columns.values(), task_id),
        )


async def finish_owner(proc: subprocess.Popen[str], workspace: Path) -> None:
    proc.send_signal(signal.SIGCONT)
    (workspace / "release.marker").write_text("go")
    assert await asyncio.to_thread(proc.wait, 60) == 0


async def test_a_suspended_owner_with_a_stale_heartbeat_keeps_its_task(
    eng: Engine, tasks: TaskService, crashing: Start, playbook_dir: Path, workspace: Path
) -> None:
    proc, task_id = await start_and_stop(crashing, playbook_dir, workspace)
    try:
        await age_heartbeat(eng, task_id)
        assert await tasks.recover() == []  # its pid is alive: not "its process stopped"
        assert (await tasks.get(task_id)).status == TaskStatus.RUNNING
        with pytest.raises(InputError, match="already running"):
            await asyncio.wait_for(tasks.resume(task_id, rerun_interrupted=True), 30)
    finally:
        await finish_owner(proc, workspace)
    task = await tasks.get(task_id)
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert lines(workspace) == ["a", "w", "c"]
    assert [r["tool"] for r in await audit_rows(eng, task_id, "run_start")] == ["wait_medium"]


async def test_a_rerun_never_overlaps_a_run_that_may_still_be_going(
    eng: Engine, tasks: TaskService, crashing: Start, playbook_dir: Path, workspace: Path
) -> None:
    """Even when the task itself was given up (its owner recorded on a host that cannot be
    asked, its heartbeat stale), the step's run holds a lease of its own process."""
    proc, task_id = await start_and_stop(crashing, playbook_dir, workspace)
    try:
        await age_heartbeat(eng, task_id, owner_host="another-host")
        assert await tasks.recover() == [task_id]
        assert (await tasks.get(task_id)).steps[1].status == StepStatus.INTERRUPTED
        for flags in ({"rerun_interrupted": True}, {"skip_interrupted": True}):
            with pytest.raises(TaskStateError, match=rf"still running .*pid {proc.pid}"):
                await asyncio.wait_for(tasks.resume(task_id, **flags), 30)
        assert (await tasks.get(task_id)).status == TaskStatus.INTERRUPTED
    finally:
        await finish_owner(proc, workspace)
    task = await tasks.resume(task_id, operator=OPERATOR)  # its run finished: adopted
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert lines(workspace) == ["a", "w", "c"]
    assert [r["tool"] for r in await audit_rows(eng, task_id, "run_start")] == ["wait_medium"]
    assert [r["status"] for r in await audit_rows(eng, task_id)] == ["ok", "ok", "ok"]


async def test_a_reused_pid_is_not_mistaken_for_the_owner(
    eng: Engine, tasks: TaskService, playbook_dir: Path
) -> None:
    """The owner's pid alive but belonging to another process (pids are reused): the task is
    recovered; the owner's own process (same pid, same start) keeps it."""
    if process_token(os.getpid()) is None:
        pytest.skip("no process start times on this platform")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        task = await tasks.create_from_playbook(write_playbook(playbook_dir, "one", [STEPS[0]]))
        async with eng.db.transaction() as tx:
            await tx.execute(
                "UPDATE tasks SET status = 'running', owner = 'reused', owner_pid = ?, "
                "owner_host = ?, owner_started = ?, heartbeat_at = ? WHERE id = ?",
                (other.pid, socket.gethostname(), process_token(other.pid), time.time(), task.id),
            )
        assert await tasks.recover() == []  # the very process that claimed it
        async with eng.db.transaction() as tx:
            await tx.execute(
                "UPDATE tasks SET owner_started = 'another-boot:1' WHERE id = ?", (task.id,)
            )
        assert await tasks.recover() == [task.id]  # same pid, another process
    finally:
        other.kill()
        other.wait()
