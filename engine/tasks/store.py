"""SQL for tasks, task steps and task artifacts (migration 3). Returns domain models.

Status changes are conditional UPDATEs (`... WHERE status IN (...)`), so two processes, or a
runner and an operator's cancel, can never both move the same task; the loser sees 0 rows
and backs off. Every status change writes its event in the same transaction.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from engine.errors import NotFoundError
from engine.events import TaskChanged
from engine.storage.database import Database, Transaction, dumps, placeholders
from engine.tasks.models import (
    Budget,
    StepStatus,
    Task,
    TaskArtifact,
    TaskStatus,
    TaskStep,
    TaskStepChanged,
)
from engine.tasks.playbooks import PlaybookStep

_TASK_COLUMNS = (
    "id, goal, source, variables, status, reason, max_steps, max_retries, max_seconds,"
    " elapsed_sec, created_by, created_at, updated_at, started_at, finished_at,"
    " run_started_at, owner, owner_pid, owner_host, owner_started, heartbeat_at"
)
_STEP_COLUMNS = (
    "task_id, idx, tool, args, title, dry_run, retry_on_failure, max_retries,"
    " continue_on_failure, status, attempts, run_status, result_summary, error, started_at,"
    " finished_at, approval_request_id, audit_id, audit_mark"
)


def task_from_row(row: sqlite3.Row) -> Task:
    data = dict(row)
    return Task(
        id=data["id"],
        goal=data["goal"],
        source=data["source"],
        variables=json.loads(data["variables"] or "{}"),
        status=TaskStatus(data["status"]),
        reason=data["reason"],
        budget=Budget(
            max_steps=data["max_steps"],
            max_retries=data["max_retries"],
            max_seconds=data["max_seconds"],
        ),
        elapsed_sec=data["elapsed_sec"],
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        run_started_at=data["run_started_at"],
        owner=data["owner"],
        owner_pid=data["owner_pid"],
        owner_host=data["owner_host"],
        owner_started=data["owner_started"],
        heartbeat_at=data["heartbeat_at"],
    )


def step_from_row(row: sqlite3.Row) -> TaskStep:
    data = dict(row)
    return TaskStep(
        task_id=data["task_id"],
        index=data["idx"],
        tool=data["tool"],
        args=json.loads(data["args"]),
        title=data["title"],
        dry_run=bool(data["dry_run"]),
        retry_on_failure=bool(data["retry_on_failure"]),
        max_retries=data["max_retries"],
        continue_on_failure=bool(data["continue_on_failure"]),
        status=StepStatus(data["status"]),
        attempts=data["attempts"],
        run_status=data["run_status"],
        result_summary=data["result_summary"],
        error=data["error"],
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        approval_request_id=data["approval_request_id"],
        audit_id=data["audit_id"],
        audit_mark=data["audit_mark"],
    )


class TaskStore:
    """Reads and writes the three task tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- reads ----------------------------------------------------------------------------

    async def get(self, task_id: str, *, details: bool = True) -> Task:
        row = await self._db.fetchone(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFoundError(f"id: no task {task_id!r}")
        task = task_from_row(row)
        if not details:
            return task
        return task.model_copy(
            update={"steps": await self.steps(task_id), "artifacts": await self.artifacts(task_id)}
        )

    async def steps(self, task_id: str) -> list[TaskStep]:
        rows = await self._db.fetchall(
            f"SELECT {_STEP_COLUMNS} FROM task_steps WHERE task_id = ? ORDER BY idx", (task_id,)
        )
        return [step_from_row(r) for r in rows]

    async def artifacts(self, task_id: str) -> list[TaskArtifact]:
        rows = await self._db.fetchall(
            "SELECT id, task_id, step_idx, kind, content, created_at FROM task_artifacts "
            "WHERE task_id = ? ORDER BY id",
            (task_id,),
        )
        return [
            TaskArtifact(
                id=r["id"],
                task_id=r["task_id"],
                step_index=r["step_idx"],
                kind=r["kind"],
                content=r["content"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    async def list(self, statuses: Iterable[str] | None = None, limit: int = 200) -> list[Task]:
        """Newest first; without steps (use `get` for one task's details)."""
        wanted = list(statuses or [])
        where = f" WHERE status IN ({placeholders(wanted)})" if wanted else ""
        rows = await self._db.fetchall(
            f"SELECT {_TASK_COLUMNS} FROM tasks{where} ORDER BY created_at DESC LIMIT ?",
            (*wanted, limit),
        )
        return [task_from_row(r) for r in rows]

    async def step_counts(self, task_ids: builtins.list[str]) -> dict[str, tuple[int, int]]:
        """task id → (steps, steps started)."""
        if not task_ids:
            return {}
        rows = await self._db.fetchall(
            "SELECT task_id, COUNT(*), SUM(attempts > 0) FROM task_steps "
            f"WHERE task_id IN ({placeholders(task_ids)}) GROUP BY task_id",
            tuple(task_ids),
        )
        return {r[0]: (int(r[1]), int(r[2] or 0)) for r in rows}

    # -- writes (inside the caller's transaction) -----------------------------------------

    async def insert_task(
        self,
        tx: Transaction,
        *,
        task_id: str,
        goal: str,
        source: str,
        variables: dict[str, Any],
        budget: Budget,
        created_by: str,
    ) -> None:
        now = time.time()
        await tx.execute(
            "INSERT INTO tasks (id, goal, source, variables, status, max_steps, max_retries,"
            " max_seconds, created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                task_id,
                goal,
                source,
                dumps(variables),
                TaskStatus.PENDING,
                budget.max_steps,
                budget.max_retries,
                budget.max_seconds,
                created_by,
                now,
                now,
            ),
        )
        await tx.emit(TaskChanged(task_id, TaskStatus.PENDING))

    async def append_steps(
        self, tx: Transaction, task_id: str, steps: builtins.list[PlaybookStep], first_index: int
    ) -> None:
        await tx.execute("UPDATE tasks SET updated_at = ? WHERE id = ?", (time.time(), task_id))
        for offset, step in enumerate(steps):
            await tx.execute(
                "INSERT INTO task_steps (task_id, idx, tool, args, title, dry_run,"
                " retry_on_failure, max_retries, continue_on_failure, status)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    task_id,
                    first_index + offset,
                    step.tool,
                    dumps(step.args),
                    step.title,
                    int(step.dry_run),
                    int(step.retry_on_failure),
                    step.max_retries,
                    int(step.continue_on_failure),
                    StepStatus.PENDING,
                ),
            )

    async def set_status(
        self,
        tx: Transaction,
        task_id: str,
        status: TaskStatus,
        *,
        expected: Iterable[TaskStatus],
        owner: str | None = None,
        reason: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Move a task from one of `expected` (and, if given, held by `owner`) to `status`."""
        now = time.time()
        sets: dict[str, Any] = {"status": status, "reason": reason, "updated_at": now}
        if status.terminal:
            sets["finished_at"] = now
        sets.update(extra or {})
        allowed = [str(s) for s in expected]
        where = f"id = ? AND status IN ({placeholders(allowed)})"
        params: list[Any] = [*sets.values(), task_id, *allowed]
        if owner is not None:
            where += " AND owner = ?"
            params.append(owner)
        assignments = ", ".join(f"{k} = ?" for k in sets)
        cursor = await tx.execute(f"UPDATE tasks SET {assignments} WHERE {where}", tuple(params))
        if cursor.rowcount != 1:
            return False
        await tx.emit(TaskChanged(task_id, status))
        return True

    async def heartbeat(self, task_id: str, owner: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE tasks SET heartbeat_at = ? WHERE id = ? AND owner = ? AND status = ?",
                (time.time(), task_id, owner, TaskStatus.RUNNING),
            )

    async def update_step(
        self, tx: Transaction, step: TaskStep, status: StepStatus, **fields: Any
    ) -> None:
        sets: dict[str, Any] = {"status": status, **fields}
        assignments = ", ".join(f"{k} = ?" for k in sets)
        await tx.execute(
            f"UPDATE task_steps SET {assignments} WHERE task_id = ? AND idx = ?",
            (*sets.values(), step.task_id, step.index),
        )
        await tx.execute(
            "UPDATE tasks SET updated_at = ? WHERE id = ?", (time.time(), step.task_id)
        )
        await tx.emit(TaskStepChanged(step.task_id, step.index, status, step.tool))

    async def add_artifact(
        self, tx: Transaction, task_id: str, kind: str, content: str, step_index: int | None = None
    ) -> None:
        await tx.execute(
            "INSERT INTO task_artifacts (task_id, step_idx, kind, content, created_at)"
            " VALUES (?,?,?,?,?)",
            (task_id, step_index, kind, content, time.time()),
        )

    async def step_in_tx(self, tx: Transaction, task_id: str, index: int) -> TaskStep:
        row = await tx.fetchone(
            f"SELECT {_STEP_COLUMNS} FROM task_steps WHERE task_id = ? AND idx = ?",
            (task_id, index),
        )
        if row is None:
            raise NotFoundError(f"step: task {task_id} has no step {index}")
        return step_from_row(row)

    async def task_in_tx(self, tx: Transaction, task_id: str) -> Task:
        row = await tx.fetchone(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFoundError(f"id: no task {task_id!r}")
        return task_from_row(row)
