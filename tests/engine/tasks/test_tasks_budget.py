"""The budget guard (engine/tasks/budget.py): step cap, capped retries, continue_on_failure,
refusals, wall clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from tasks_helpers import audit_rows, write_playbook
from tasks_toolkit import make_registry

from engine import Engine, Settings
from engine.clock import ManualClock
from engine.tasks import StepStatus, TaskService, TaskStatus
from engine.tools.registry import ToolRegistry
from engine.tools.spec import Risk, ToolContext, ToolSpec


def lines(ws: Path, name: str = "trace.txt") -> list[str]:
    path = ws / name
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def appends(*words: str) -> list[dict[str, object]]:
    return [{"tool": "append_line", "args": {"line": w}} for w in words]


async def test_step_cap_ends_budget_exhausted_not_completed(
    tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(playbook_dir, "five", appends("a", "b", "c", "d", "e"))
    task = await tasks.create_from_playbook("five", max_steps=3)
    task = await tasks.run(task.id)
    assert task.status == TaskStatus.BUDGET_EXHAUSTED
    assert "3 steps used (the task's max_steps)" in (task.reason or "")
    assert "step 4 (append_line) was not run" in (task.reason or "")
    assert lines(workspace) == ["a", "b", "c"]
    assert [s.status for s in task.steps] == [StepStatus.SUCCEEDED] * 3 + [StepStatus.PENDING] * 2
    assert [s.attempts for s in task.steps] == [1, 1, 1, 0, 0]
    assert task.finished_at is not None


async def test_policy_cap_wins_when_lower(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    await eng.update_config({"max_steps_per_run": 2}, operator="op")
    write_playbook(playbook_dir, "five", appends("a", "b", "c", "d", "e"))
    task = await tasks.create_from_playbook("five", max_steps=10)
    assert task.budget.max_steps == 10
    task = await tasks.run(task.id)
    assert task.status == TaskStatus.BUDGET_EXHAUSTED
    assert "max_steps_per_run" in (task.reason or "")
    assert lines(workspace) == ["a", "b"]


async def test_exactly_at_the_cap_is_completed(
    tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(playbook_dir, "two", appends("a", "b"))
    task = await tasks.run((await tasks.create_from_playbook("two", max_steps=2)).id)
    assert task.status == TaskStatus.COMPLETED
    assert lines(workspace) == ["a", "b"]


@pytest.mark.parametrize(
    ("step_retries", "task_retries", "policy_retries", "expected_attempts"),
    [
        (5, 5, 2, 3),  # the policy's max_retries_per_tool is the lowest
        (1, 5, 2, 2),  # the step's max_retries
        (5, 0, 2, 1),  # the task's budget allows none
    ],
)
async def test_retries_are_capped_at_the_minimum(
    eng: Engine,
    tasks: TaskService,
    playbook_dir: Path,
    workspace: Path,
    step_retries: int,
    task_retries: int,
    policy_retries: int,
    expected_attempts: int,
) -> None:
    await eng.update_config({"max_retries_per_tool": policy_retries}, operator="op")
    write_playbook(
        playbook_dir,
        "stubborn",
        [
            {
                "tool": "flaky",
                "args": {"fail_times": 100},
                "retry_on_failure": True,
                "max_retries": step_retries,
            },
            *appends("after"),
        ],
    )
    task = await tasks.create_from_playbook("stubborn", max_retries=task_retries)
    task = await tasks.run(task.id)
    assert task.status == TaskStatus.FAILED
    step = task.steps[0]
    assert step.status == StepStatus.FAILED and step.attempts == expected_attempts
    assert "flaky: failing on call" in (task.reason or "")
    assert (workspace / "flaky.count").read_text() == str(expected_attempts)
    runs = await audit_rows(eng, task.id)
    assert [r["status"] for r in runs] == ["error"] * expected_attempts
    assert lines(workspace) == []  # the task stopped at the failing step


async def test_no_retry_without_retry_on_failure(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(playbook_dir, "once", [{"tool": "flaky", "max_retries": 5}])
    task = await tasks.run((await tasks.create_from_playbook("once")).id)
    assert task.status == TaskStatus.FAILED and task.steps[0].attempts == 1


async def test_a_retry_that_succeeds_completes(
    tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(
        playbook_dir,
        "flaky_once",
        [{"tool": "flaky", "args": {"fail_times": 1}, "retry_on_failure": True, "max_retries": 2}],
    )
    task = await tasks.run((await tasks.create_from_playbook("flaky_once")).id)
    assert task.status == TaskStatus.COMPLETED
    assert task.steps[0].attempts == 2 and task.steps[0].status == StepStatus.SUCCEEDED
    assert '"calls":2' in (task.steps[0].result_summary or "")


async def test_continue_on_failure(tasks: TaskService, playbook_dir: Path, workspace: Path) -> None:
    failing = {"tool": "flaky", "args": {"fail_times": 100}}
    write_playbook(playbook_dir, "go_on", [{**failing, "continue_on_failure": True}, *appends("b")])
    write_playbook(playbook_dir, "stop", [failing, *appends("b")])
    go_on = await tasks.run((await tasks.create_from_playbook("go_on")).id)
    assert go_on.status == TaskStatus.COMPLETED
    assert [s.status for s in go_on.steps] == [StepStatus.FAILED, StepStatus.SUCCEEDED]
    assert lines(workspace) == ["b"]
    stop = await tasks.run((await tasks.create_from_playbook("stop")).id)
    assert stop.status == TaskStatus.FAILED
    assert stop.reason is not None and stop.reason.startswith("step 1 (flaky) failed: flaky:")
    assert [s.status for s in stop.steps] == [StepStatus.FAILED, StepStatus.PENDING]
    assert lines(workspace) == ["b"]  # "b" of the second task never ran


async def test_refused_step_fails_the_task_even_with_continue_on_failure(
    eng: Engine, tasks: TaskService, playbook_dir: Path, workspace: Path
) -> None:
    write_playbook(
        playbook_dir,
        "write",
        [
            {
                "tool": "filesystem_write",  # disabled by default
                "args": {"path": "x.txt", "content": "x"},
                "continue_on_failure": True,
                "retry_on_failure": True,
                "max_retries": 3,
            },
            *appends("after"),
        ],
    )
    task = await tasks.run((await tasks.create_from_playbook("write")).id)
    assert task.status == TaskStatus.FAILED
    assert (
        task.reason == "step 1 (filesystem_write) was refused: tool: filesystem_write is disabled"
    )
    assert task.steps[0].attempts == 1 and task.steps[0].run_status == "refused"
    assert not (workspace / "x.txt").exists() and lines(workspace) == []
    assert [r["status"] for r in await audit_rows(eng, task.id)] == ["refused"]


class PassTimeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float


def passing_time(clock: ManualClock) -> ToolRegistry:
    """The test tools and `pass_time`, a step that takes `seconds` on the engine's clock."""

    async def pass_time(ctx: ToolContext, args: PassTimeArgs) -> dict[str, Any]:
        clock.advance(args.seconds)
        return {"passed": args.seconds}

    registry = make_registry()
    registry.register(
        ToolSpec(
            name="pass_time",
            description="Take a while.",
            risk=Risk.LOW,
            args_model=PassTimeArgs,
            run=pass_time,
        )
    )
    return registry


async def test_wall_clock_limit(
    settings: Settings, make_service: Callable[[Engine], TaskService], playbook_dir: Path
) -> None:
    """Steps of 25 s against a 60 s budget: the third passes the limit, the fourth is not
    started; exactly, because the seconds are the engine clock's."""
    clock = ManualClock()
    write_playbook(
        playbook_dir, "slow", [{"tool": "pass_time", "args": {"seconds": 25}} for _ in range(8)]
    )
    async with Engine.open(settings, registry=passing_time(clock), clock=clock) as eng:
        tasks = make_service(eng)
        task = await tasks.run((await tasks.create_from_playbook("slow", max_seconds=60)).id)
    assert task.status == TaskStatus.BUDGET_EXHAUSTED
    assert "max_seconds 60 s" in (task.reason or "")
    assert [s.status for s in task.steps[:4]] == [StepStatus.SUCCEEDED] * 3 + [StepStatus.PENDING]
    assert task.elapsed_sec == 75.0
