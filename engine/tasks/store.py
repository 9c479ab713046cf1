"""SQL for tasks, task steps and task artifacts (migration 3). Returns domain models.

A task's status changes in one place, `TaskStore.transition`: a conditional UPDATE
(`... WHERE status IN (...)`, and the owner when one is named), so two processes, or a runner
and an operator's cancel, can never both move the same task; the loser sees 0 rows and backs
off. The winner's event and audit record are written in the same transaction, and the
running time is accounted for on the way in and out of `running`. The runner, the service
and `engine.recovery` all go through it; none writes the tasks table itself.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from engine.audit import AuditEntry, AuditLog
from engine.clock import SYSTEM, Clock
from engine.errors import NotFoundError
from engine.events import TaskChanged
from engine.storage.database import Database, Transaction, dumps, placeholders
from engine.storage.dialect import POSTGRESQL
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

TASK_COLUMNS = (
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

    def __init__(self, db: Database, audit: AuditLog, clock: Clock = SYSTEM) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    # -- reads ----------------------------------------------------------------------------

    async def get(self, task_id: str, *, details: bool = True) -> Task:
        row = await self._db.fetchone(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,))
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
            f"SELECT {TASK_COLUMNS} FROM tasks{where} ORDER BY created_at DESC LIMIT ?",
            (*wanted, limit),
        )
        return [task_from_row(r) for r in rows]

    async def count(self, statuses: Iterable[str] | None = None) -> int:
        """How many tasks `list(statuses)` would return without its limit."""
        wanted = list(statuses or [])
        where = f" WHERE status IN ({placeholders(wanted)})" if wanted else ""
        row = await self._db.fetchone(f"SELECT COUNT(*) FROM tasks{where}", tuple(wanted))
        return int(row[0]) if row else 0

    async def step_counts(self, task_ids: builtins.list[str]) -> dict[str, tuple[int, int]]:
        """task id → (steps, steps started)."""
        if not task_ids:
            return {}
        rows = await self._db.fetchall(
            "SELECT task_id, COUNT(*), SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) "
            "FROM task_steps "
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
        now = self._clock.time()
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
        await tx.execute(
            "UPDATE tasks SET updated_at = ? WHERE id = ?", (self._clock.time(), task_id)
        )
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

    async def transition(
        self,
        tx: Transaction,
        task_id: str,
        from_states: Iterable[TaskStatus],
        to_state: TaskStatus,
        *,
        actor: str,
        reason: str | None,
        if_owner: str | None = None,
        ran_until: float | None = None,
        artifact: tuple[str, str] | None = None,
        **fields: Any,
    ) -> bool:
        """Move a task from one of `from_states` (and, if given, held by `if_owner`) to
        `to_state`, with its event and its `task_<status>` audit record by `actor`; False,
        with nothing written, when it was not there (someone else moved it first).

        Entering `running` starts the running-time clock; leaving it adds the time run so
        far (until `ran_until`, default now: recovery passes the last heartbeat) to
        `elapsed_sec`. `fields` are further columns to set (the owner, when claiming)."""
        now = self._clock.time()
        current = await self.task_in_tx(tx, task_id)
        sets: dict[str, Any] = {"status": to_state, "reason": reason, "updated_at": now}
        if to_state == TaskStatus.RUNNING:
            sets.update(
                run_started_at=now,
                heartbeat_at=now,
                started_at=current.started_at or now,
                finished_at=None,
            )
        else:
            if current.status == TaskStatus.RUNNING and current.run_started_at is not None:
                until = now if ran_until is None else ran_until
                sets["elapsed_sec"] = current.elapsed_sec + max(0.0, until - current.run_started_at)
            sets["run_started_at"] = None
        if to_state.terminal:
            sets["finished_at"] = now
        sets.update(fields)
        allowed = [str(s) for s in from_states]
        where = f"id = ? AND status IN ({placeholders(allowed)})"
        params: list[Any] = [*sets.values(), task_id, *allowed]
        if if_owner is not None:
            where += " AND owner = ?"
            params.append(if_owner)
        assignments = ", ".join(f"{k} = ?" for k in sets)
        cursor = await tx.execute(f"UPDATE tasks SET {assignments} WHERE {where}", tuple(params))
        if cursor.rowcount != 1:
            return False
        if artifact is not None:
            await self.add_artifact(tx, task_id, artifact[0], artifact[1])
        await tx.emit(TaskChanged(task_id, to_state))
        await self._audit.append(
            tx,
            AuditEntry(
                actor=actor,
                action=f"task_{to_state}",
                status=str(to_state),
                task_id=task_id,
                result_summary=reason or None,
            ),
        )
        return True

    async def claim_candidates(
        self, tx: Transaction, dialect: str, host: str, stale_before: float, limit: int
    ) -> builtins.list[Task]:
        """Inside a claim (`engine.tasks.claims`): pending tasks oldest first, then running
        ones of `host` (their pid can be asked) or with no heartbeat since `stale_before`.
        PostgreSQL locks the rows read and skips those another transaction holds."""
        sql = (
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE status = ? OR (status = ? AND "
            "(owner_host = ? OR COALESCE(heartbeat_at, run_started_at, 0) < ?)) "
            "ORDER BY CASE WHEN status = ? THEN 0 ELSE 1 END, created_at, id LIMIT ?"
        )
        if dialect == POSTGRESQL:
            sql += " FOR UPDATE SKIP LOCKED"
        rows = await tx.fetchall(
            sql,
            (TaskStatus.PENDING, TaskStatus.RUNNING, host, stale_before, TaskStatus.PENDING, limit),
        )
        return [task_from_row(r) for r in rows]

    async def held_by(self, tx: Transaction, task_id: str, owner: str) -> bool:
        """Whether `owner` still holds the task (a runner checks before each write)."""
        row = await tx.fetchone("SELECT owner FROM tasks WHERE id = ?", (task_id,))
        return row is not None and row[0] == owner

    async def heartbeat(self, task_id: str, owner: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE tasks SET heartbeat_at = ? WHERE id = ? AND owner = ? AND status = ?",
                (self._clock.time(), task_id, owner, TaskStatus.RUNNING),
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
            "UPDATE tasks SET updated_at = ? WHERE id = ?", (self._clock.time(), step.task_id)
        )
        await tx.emit(TaskStepChanged(step.task_id, step.index, status, step.tool))

    async def add_artifact(
        self, tx: Transaction, task_id: str, kind: str, content: str, step_index: int | None = None
    ) -> None:
        await tx.execute(
            "INSERT INTO task_artifacts (task_id, step_idx, kind, content, created_at)"
            " VALUES (?,?,?,?,?)",
            (task_id, step_index, kind, content, self._clock.time()),
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
        row = await tx.fetchone(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFoundError(f"id: no task {task_id!r}")
        return task_from_row(row)

    # -- the audit trail of a task's steps (crash reconciliation) ---------------------------

    async def newest_step_record(
        self, task_id: str, tool: str, after_id: int, actions: tuple[str, ...]
    ) -> int | None:
        """The id of the newest audit record of `tool` for this task after `after_id`
        with one of `actions`."""
        row = await self._db.fetchone(
            "SELECT id FROM audit WHERE task_id = ? AND tool = ? AND id > ? "
            f"AND action IN ({placeholders(list(actions))}) ORDER BY id DESC LIMIT 1",
            (task_id, tool, after_id, *actions),
        )
        return int(row[0]) if row else None

    async def approved_run_started(self, request_id: str) -> bool:
        """Whether the run of an approved request had started (a `run_start` record)."""
        row = await self._db.fetchone(
            "SELECT 1 FROM audit WHERE approval_id = ? AND action = 'run_start' LIMIT 1",
            (request_id,),
        )
        return row is not None
