"""docs/architecture.md, flow (c): a risky step waits for an operator; approval resumes the task
without running the step twice, denial or expiry fails it, cancelling withdraws the request."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tasks_helpers import OPERATOR, audit_rows, git, write_playbook
from tasks_toolkit import make_registry

from engine import Engine, InputError, Settings
from engine.clock import ManualClock
from engine.tasks import StepStatus, Task, TaskService, TaskStateError, TaskStatus

STEPS = [
    {"tool": "append_line", "args": {"line": "a"}},
    {"tool": "risky_append", "args": {"line": "b"}},
    {"tool": "append_line", "args": {"line": "c"}},
]


def lines(ws: Path) -> list[str]:
    path = ws / "trace.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.fixture
async def waiting(tasks: TaskService, playbook_dir: Path) -> Task:
    write_playbook(playbook_dir, "risky", STEPS)
    task = await tasks.run((await tasks.create_from_playbook("risky")).id)
    assert task.status == TaskStatus.WAITING_APPROVAL, task.reason
    return task


async def test_approval_resumes_and_the_step_runs_once(
    eng: Engine, tasks: TaskService, waiting: Task, workspace: Path
) -> None:
    step = waiting.steps[1]
    assert step.status == StepStatus.WAITING_APPROVAL and step.approval_request_id
    assert f"request {step.approval_request_id}" in (waiting.reason or "")
    assert lines(workspace) == ["a"]
    inbox = await eng.pending_approvals()
    assert [(r.id, r.tool, r.args["line"], r.requester, r.task_id) for r in inbox] == [
        (step.approval_request_id, "risky_append", "b", f"task:{waiting.id}", waiting.id)
    ]
    # Resuming before the decision changes nothing and runs nothing.
    again = await tasks.resume(waiting.id)
    assert again.status == TaskStatus.WAITING_APPROVAL and lines(workspace) == ["a"]

    result = await eng.approve(step.approval_request_id, operator=OPERATOR)
    assert result.status == "ok"
    assert lines(workspace) == ["a", "b"]  # the operator's approval ran the step

    done = await tasks.resume(waiting.id, operator=OPERATOR)
    assert done.status == TaskStatus.COMPLETED, done.reason
    assert lines(workspace) == ["a", "b", "c"]  # "b" was not run a second time
    risky = done.steps[1]
    assert risky.status == StepStatus.SUCCEEDED and risky.attempts == 1
    assert risky.audit_id == result.audit_id and risky.run_status == "ok"
    runs = [(r["tool"], r["status"]) for r in await audit_rows(eng, waiting.id)]
    assert runs == [
        ("append_line", "ok"),
        ("risky_append", "pending_approval"),
        ("risky_append", "ok"),
        ("append_line", "ok"),
    ]
    with pytest.raises(InputError, match="is completed; it cannot be resumed"):
        await tasks.resume(waiting.id)


async def test_denial_fails_the_task_with_the_reason(
    eng: Engine, tasks: TaskService, waiting: Task, workspace: Path
) -> None:
    request_id = waiting.steps[1].approval_request_id
    assert request_id is not None
    await eng.deny(request_id, "not on a Friday", operator=OPERATOR)
    task = await tasks.resume(waiting.id)
    assert task.status == TaskStatus.FAILED
    assert task.reason == (
        f"step 2 (risky_append): approval request {request_id} was denied by op: not on a Friday"
    )
    assert [s.status for s in task.steps] == [
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.PENDING,
    ]
    assert lines(workspace) == ["a"]


async def test_expiry_fails_the_task(
    eng: Engine, tasks: TaskService, waiting: Task, workspace: Path
) -> None:
    request_id = waiting.steps[1].approval_request_id
    async with eng.db.transaction() as tx:  # force expiry: the request TTL is 30 minutes
        await tx.execute(
            "UPDATE approval_requests SET expires_at = ? WHERE id = ?",
            (time.time() - 1, request_id),
        )
    task = await tasks.resume(waiting.id)
    assert task.status == TaskStatus.FAILED
    assert f"approval request {request_id} expired" in (task.reason or "")
    assert (await eng.approvals.get(str(request_id))).status == "expired"
    assert lines(workspace) == ["a"]


async def test_cancel_while_waiting_denies_the_request(
    eng: Engine, tasks: TaskService, waiting: Task, workspace: Path
) -> None:
    request_id = str(waiting.steps[1].approval_request_id)
    task = await tasks.cancel(waiting.id, "changed my mind", operator=OPERATOR)
    assert task.status == TaskStatus.CANCELLED
    assert task.reason == "cancelled by op: changed my mind"
    assert task.steps[1].status == StepStatus.SKIPPED
    request = await eng.approvals.get(request_id)
    assert request.status == "denied" and request.decided_by == OPERATOR
    assert await eng.pending_approvals() == []
    with pytest.raises(InputError, match="already cancelled"):
        await tasks.cancel(waiting.id)
    with pytest.raises(InputError, match="cannot be resumed"):
        await tasks.resume(waiting.id)


async def test_wait_and_resume_continues_after_approval(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(playbook_dir, "risky", STEPS)
    task = await tasks.create_from_playbook("risky")
    runner = asyncio.create_task(tasks.wait_and_resume(task.id, max_wait_sec=30, poll_sec=5))
    for _ in range(200):
        pending = await eng.pending_approvals()
        if pending:
            break
        await asyncio.sleep(0.02)
    assert len(pending) == 1 and not runner.done()
    await eng.approve(pending[0].id, operator=OPERATOR)
    done = await asyncio.wait_for(runner, 10)  # woken by the decision, not the 5 s poll
    assert done.status == TaskStatus.COMPLETED
    assert lines(workspace) == ["a", "b", "c"]


async def test_wait_and_resume_gives_up_after_its_limit(
    settings: Settings, make_service: Callable[[Engine], TaskService], playbook_dir: Path
) -> None:
    """Ten minutes of waiting, polled every minute, on a clock the test moves: the wait
    ends at its limit and not a poll before."""
    clock = ManualClock()
    async with Engine.open(settings, registry=make_registry(), clock=clock) as eng:
        tasks = make_service(eng)
        write_playbook(playbook_dir, "risky", STEPS)
        task = await tasks.create_from_playbook("risky")
        waiter = asyncio.create_task(tasks.wait_and_resume(task.id, max_wait_sec=600, poll_sec=60))
        for _ in range(9):
            async with asyncio.timeout(30):
                await clock.asleep()
            assert not waiter.done()
            clock.advance(60)
        async with asyncio.timeout(30):
            await clock.asleep()
        clock.advance(60)
        async with asyncio.timeout(30):
            task = await waiter
        assert task.status == TaskStatus.WAITING_APPROVAL
        assert [r.task_id for r in await eng.pending_approvals()] == [task.id]  # still asked


async def test_an_approved_run_that_fails_is_retried_through_a_new_request(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(
        playbook_dir,
        "risky_retry",
        [
            {
                "tool": "risky_append",
                "args": {"path": "later/out.txt", "line": "x"},
                "retry_on_failure": True,
                "max_retries": 1,
            }
        ],
    )
    task = await tasks.run((await tasks.create_from_playbook("risky_retry")).id)
    first = str(task.steps[0].approval_request_id)
    failed = await eng.approve(first, operator=OPERATOR)  # the directory does not exist yet
    assert failed.status == "error"
    task = await tasks.resume(task.id)
    assert task.status == TaskStatus.WAITING_APPROVAL  # attempt 2 needs its own approval
    second = str(task.steps[0].approval_request_id)
    assert second != first and task.steps[0].attempts == 2
    (workspace / "later").mkdir()
    await eng.approve(second, operator=OPERATOR)
    task = await tasks.resume(task.id)
    assert task.status == TaskStatus.COMPLETED
    assert (workspace / "later" / "out.txt").read_text() == "x\n"
    statuses = [r["status"] for r in await audit_rows(eng, task.id)]
    assert statuses == ["pending_approval", "error", "pending_approval", "ok"]


async def test_apply_reviewed_patch_playbook(eng: Engine, workspace: Path) -> None:
    await eng.set_tool_enabled("apply_patch", True, operator=OPERATOR)
    (workspace / "app.py").write_text("def answer():\n    return 42\n", encoding="utf-8")
    patch = git(workspace, "diff")
    git(workspace, "checkout", "--", "app.py")
    tasks = TaskService(eng)  # the shipped playbooks
    task = await tasks.create_from_playbook("apply_reviewed_patch", {"patch": patch})
    task = await tasks.run(task.id)
    assert task.status == TaskStatus.WAITING_APPROVAL, task.reason
    check, apply, _ = task.steps
    assert check.status == StepStatus.SUCCEEDED and check.run_status == "dry_run"
    assert "return 41" in (workspace / "app.py").read_text()  # the dry run changed nothing
    assert apply.status == StepStatus.WAITING_APPROVAL
    request = await eng.approvals.get(str(apply.approval_request_id))
    assert request.args["patch"] == patch  # the operator sees exactly what will be applied
    await eng.approve(request.id, operator=OPERATOR)
    task = await tasks.resume(task.id)
    assert task.status == TaskStatus.COMPLETED, task.reason
    assert "return 42" in (workspace / "app.py").read_text()
    assert "return 42" in (task.steps[2].result_summary or "")
    status = subprocess.run(
        ["git", "-C", str(workspace), "status", "--short"], capture_output=True, text=True
    )
    assert status.stdout.strip() == "M app.py"


APPROVER = Path(__file__).resolve().parent / "tasks_approver_script.py"
WAIT_STEPS = [{"tool": "wait_medium", "args": {"line": "approved-run"}}]


def approver(
    settings_db: Path, workspace: Path, request_id: str, mode: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(APPROVER), str(settings_db), str(workspace), request_id, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_a_task_whose_approver_dies_mid_run_stays_resumable(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    """engine/tasks/runner.py: an interrupted task can be resumed; the step that may have run is run
    again only on the operator's explicit choice, and only after a fresh approval."""
    write_playbook(playbook_dir, "blocking", WAIT_STEPS)
    task = await tasks.run((await tasks.create_from_playbook("blocking")).id)
    request_id = str(task.steps[0].approval_request_id)
    proc = approver(eng.db.path, workspace, request_id, "run")
    try:
        for _ in range(500):  # the approved run has started and blocks in the tool
            if (workspace / "started.marker").exists():
                break
            await asyncio.sleep(0.02)
        assert (workspace / "started.marker").exists(), proc.stderr
        still = await tasks.resume(task.id)  # its process is alive: still in progress
        assert still.status == TaskStatus.WAITING_APPROVAL
        assert await eng.recovery.interrupted_approvals() == ()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    interrupted = await tasks.resume(task.id)
    assert interrupted.status == TaskStatus.INTERRUPTED, interrupted.reason
    assert "may already have run" in (interrupted.reason or "")
    assert interrupted.steps[0].status == StepStatus.INTERRUPTED
    request = await eng.approvals.get(request_id)
    assert request.run_status == "interrupted" and request.run_owner_pid == proc.pid
    record = await eng.audit.get(int(request.run_audit_id or 0))
    assert record is not None and record.action == "approval_run_interrupted"
    assert f"pid {proc.pid}" in (record.error or "")
    assert not (workspace / "trace.txt").exists()  # the tool never got past its block

    with pytest.raises(TaskStateError, match="--rerun-interrupted"):
        await tasks.resume(task.id)
    again = await tasks.resume(task.id, operator=OPERATOR, rerun_interrupted=True)
    assert again.status == TaskStatus.WAITING_APPROVAL, again.reason
    second = str(again.steps[0].approval_request_id)
    assert second != request_id  # what runs again is approved again
    (workspace / "release.marker").write_text("go")
    await eng.approve(second, operator=OPERATOR)
    done = await tasks.resume(task.id)
    assert done.status == TaskStatus.COMPLETED, done.reason
    assert (workspace / "trace.txt").read_text() == "approved-run\n"
    assert (await eng.audit.verify()).ok


async def test_an_approval_whose_process_died_before_running_is_asked_again(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path, settings: Settings
) -> None:
    write_playbook(playbook_dir, "blocking", WAIT_STEPS)
    task = await tasks.run((await tasks.create_from_playbook("blocking")).id)
    request_id = str(task.steps[0].approval_request_id)
    proc = approver(eng.db.path, workspace, request_id, "decide-only")
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert (await eng.approvals.get(request_id)).run_status is None
    async with Engine.open(settings, registry=make_registry()) as other:  # e.g. the console
        request = await other.approvals.get(request_id)
    assert request.status == "approved" and request.run_status == "interrupted"
    record = await eng.audit.get(int(request.run_audit_id or 0))
    assert record is not None and "nothing was executed" in (record.error or "")
    assert await eng.recovery.interrupted_approvals() == ()  # reaped once
    waiting = await tasks.resume(task.id)  # nothing of it ran: it simply asks again
    assert waiting.status == TaskStatus.WAITING_APPROVAL, waiting.reason
    assert waiting.steps[0].approval_request_id not in (None, request_id)
    assert not (workspace / "started.marker").exists()
