"""`TaskStore.transition` is the one place a task's status changes: conditional, exactly
once across racing writers, with its event and audit record, and the running time counted
on the engine's clock (a ManualClock here, so the seconds are exact)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tasks_helpers import write_playbook
from tasks_toolkit import make_registry

import engine
from engine import Engine, Settings
from engine.clock import ManualClock
from engine.events import TaskChanged
from engine.tasks import TaskService, TaskStatus
from engine.tasks.runner import new_owner

OWNER_FIELDS: dict[str, Any] = {"owner": "someone", "owner_pid": 1, "owner_host": "nowhere"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def eng(settings: Settings, clock: ManualClock) -> AsyncIterator[Engine]:
    async with Engine.open(settings, registry=make_registry(), clock=clock) as engine:
        yield engine


async def _task(tasks: TaskService, playbook_dir: Path) -> str:
    write_playbook(playbook_dir, "one", [{"tool": "append_line", "args": {"line": "a"}}])
    return (await tasks.create_from_playbook("one")).id


async def _move(
    eng: Engine, tasks: TaskService, task_id: str, to: TaskStatus, *, if_owner: str | None = None
) -> bool:
    async with eng.db.transaction() as tx:
        return await tasks.store.transition(
            tx,
            task_id,
            {TaskStatus.RUNNING},
            to,
            actor="tester",
            reason=f"to {to}",
            if_owner=if_owner,
        )


async def _audited(eng: Engine, task_id: str) -> list[str]:
    rows = await eng.db.fetchall(
        "SELECT action FROM audit WHERE task_id = ? AND action LIKE 'task_%' ORDER BY id",
        (task_id,),
    )
    return [r[0] for r in rows]


async def test_a_transition_from_another_state_changes_nothing(
    eng: Engine, tasks: TaskService, playbook_dir: Path
) -> None:
    task_id = await _task(tasks, playbook_dir)
    before = await tasks.get(task_id)
    with eng.bus.subscription() as events:
        assert not await _move(eng, tasks, task_id, TaskStatus.FAILED)  # it is pending
        assert events.empty()
    after = await tasks.get(task_id)
    assert after == before
    assert await _audited(eng, task_id) == ["task_created"]


async def test_leaving_running_counts_the_running_time_on_the_clock(
    eng: Engine, tasks: TaskService, playbook_dir: Path, clock: ManualClock
) -> None:
    task_id = await _task(tasks, playbook_dir)
    async with eng.db.transaction() as tx:
        assert await tasks.store.transition(
            tx,
            task_id,
            {TaskStatus.PENDING},
            TaskStatus.RUNNING,
            actor="tester",
            reason="claimed",
            **OWNER_FIELDS,
        )
    clock.advance(7.0)
    with eng.bus.subscription() as events:
        assert await _move(eng, tasks, task_id, TaskStatus.INTERRUPTED, if_owner="someone")
        published = [events.get_nowait() for _ in range(events.qsize())]
    task = await tasks.get(task_id)
    assert task.status == TaskStatus.INTERRUPTED and task.reason == "to interrupted"
    assert task.elapsed_sec == 7.0 and task.run_started_at is None
    assert task.owner == "someone" and task.started_at == clock.time() - 7.0
    assert TaskChanged(task_id, TaskStatus.INTERRUPTED) in published
    assert await _audited(eng, task_id) == ["task_created", "task_running", "task_interrupted"]


async def test_only_the_named_owner_moves_a_running_task(
    eng: Engine, tasks: TaskService, playbook_dir: Path
) -> None:
    task_id = await _task(tasks, playbook_dir)
    assert await tasks.runner.claim(task_id, {TaskStatus.PENDING}, "tester", "claimed")
    stranger, _, _ = new_owner()
    assert not await _move(eng, tasks, task_id, TaskStatus.FAILED, if_owner=stranger)
    assert (await tasks.get(task_id)).status == TaskStatus.RUNNING
    assert await _move(eng, tasks, task_id, TaskStatus.FAILED, if_owner=tasks.runner.owner)
    assert (await tasks.get(task_id)).status == TaskStatus.FAILED


async def test_racing_transitions_move_the_task_exactly_once(
    eng: Engine, tasks: TaskService, playbook_dir: Path
) -> None:
    task_id = await _task(tasks, playbook_dir)
    assert await tasks.runner.claim(task_id, {TaskStatus.PENDING}, "tester", "claimed")
    targets = [TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.INTERRUPTED] * 4
    won = await asyncio.gather(*(_move(eng, tasks, task_id, t) for t in targets))
    assert sum(won) == 1
    final = (await tasks.get(task_id)).status
    assert final == targets[won.index(True)]
    assert (await _audited(eng, task_id))[-1] == f"task_{final}"
    assert len(await _audited(eng, task_id)) == 3  # created, running, the one winner


def test_no_engine_module_but_the_store_writes_the_tasks_table() -> None:
    root = Path(engine.__file__).parent
    writers = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"(UPDATE|INSERT INTO|DELETE FROM)\s+tasks\b", path.read_text("utf-8"))
    ]
    assert writers == ["tasks/store.py"]


def test_the_runner_service_and_planner_reach_the_database_only_through_the_store() -> None:
    tasks_dir = Path(engine.__file__).parent / "tasks"
    with_sql = [
        path.name
        for path in tasks_dir.glob("*.py")
        if path.name != "store.py"
        and re.search(r"\.(execute|fetchone|fetchall)\(|\bSELECT\b", path.read_text("utf-8"))
    ]
    assert with_sql == []
