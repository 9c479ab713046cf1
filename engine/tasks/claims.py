"""Which task a worker takes next, and how: several workers on several hosts each take a
different task, and no task is driven by two at once (issue 21).

A worker (`TaskService.run_next`) takes the oldest `pending` task, or else one still
`running` under an owner that is gone (`task_owner_alive`): a takeover. Taking one over
marks its running step interrupted; the runner then decides from the audit log what runs
again (`engine.tasks.runner`), exactly as `resume` does, so a step that may have run is
never run again without the operator's word.

PostgreSQL reads the candidates `FOR UPDATE SKIP LOCKED`: a row another worker is claiming
in that moment is skipped rather than waited for, and the rows read stay locked until this
claim commits. SQLite needs no row locks: its write transaction (`BEGIN IMMEDIATE`) lets one
claim run at a time. On both the claim itself is `TaskStore.transition`'s conditional UPDATE
(the status, and for a takeover the old owner), so a claim that lost a race writes nothing.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from engine.clock import Clock
from engine.liveness import owner_alive
from engine.storage.database import Transaction
from engine.tasks.models import StepStatus, Task, TaskStatus
from engine.tasks.store import TaskStore

STALE_HEARTBEAT_SEC = 60.0
"""Where an owner's process cannot be asked (another host), a heartbeat older than this
says it is gone."""
CANDIDATES = 32
"""Rows one claim reads (and, on PostgreSQL, locks) at most: pending ones first, then
running ones that may be orphans, whose owners are asked one by one."""


def task_owner_alive(task: Task, now: float) -> bool:
    """A live owner always wins: on this host the owner's pid is asked, and an old
    heartbeat (a suspended process, a reader whose clock runs ahead) never outweighs it.
    The heartbeat decides only where the process cannot be asked (another host, or a
    platform without a safe check)."""
    if task.owner_host == socket.gethostname() and task.owner_pid:
        if task.owner_pid == os.getpid():
            return False  # this process, but no runner here drives it: an orphan
        alive = owner_alive(task.owner_pid, task.owner_started)
        if alive is not None:
            return alive
    last = task.heartbeat_at or task.run_started_at or 0.0
    return now - last < STALE_HEARTBEAT_SEC


async def claim_next(
    tx: Transaction,
    store: TaskStore,
    clock: Clock,
    dialect: str,
    actor: str,
    owner_fields: dict[str, Any],
    busy_here: dict[str, str],
) -> str | None:
    """Inside the caller's write transaction: claim one runnable task for the owner in
    `owner_fields`; its id, or None when there is none. `busy_here` maps the tasks this
    process drives to their owner (never taken over)."""
    now = clock.time()
    candidates = await store.claim_candidates(
        tx, dialect, socket.gethostname(), now - STALE_HEARTBEAT_SEC, CANDIDATES
    )
    worker = owner_fields["owner"]
    for task in candidates:
        if task.status == TaskStatus.PENDING:
            claimed = await store.transition(
                tx,
                task.id,
                {TaskStatus.PENDING},
                TaskStatus.RUNNING,
                actor=actor,
                reason=f"claimed by worker {worker}",
                **owner_fields,
            )
        else:
            gone = busy_here.get(task.id) != task.owner and not task_owner_alive(task, now)
            claimed = gone and await _take_over(tx, store, task, now, actor, owner_fields)
        if claimed:
            return task.id
    return None


async def _take_over(
    tx: Transaction,
    store: TaskStore,
    task: Task,
    now: float,
    actor: str,
    owner_fields: dict[str, Any],
) -> bool:
    """Move a running task from its gone owner to this worker; its running step becomes
    interrupted (the runner reconciles it from the audit log)."""
    last_alive = task.heartbeat_at or task.run_started_at or now
    ran = max(0.0, last_alive - task.run_started_at) if task.run_started_at is not None else 0.0
    silent = max(0.0, now - last_alive)
    moved = await store.transition(
        tx,
        task.id,
        {TaskStatus.RUNNING},
        TaskStatus.RUNNING,
        actor=actor,
        reason=(
            f"taken over by worker {owner_fields['owner']}: its owner ({task.owner_host} pid "
            f"{task.owner_pid}) stopped (last heartbeat {silent:.0f} s ago)"
        ),
        if_owner=task.owner,
        elapsed_sec=task.elapsed_sec + ran,  # running time counts until it was last seen
        **owner_fields,
    )
    if not moved:
        return False
    for step in await store.steps(task.id):
        if step.status == StepStatus.RUNNING:
            await store.update_step(
                tx,
                step,
                StepStatus.INTERRUPTED,
                error="its worker stopped while this step was running",
            )
    return True
