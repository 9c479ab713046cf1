"""Crash recovery: finishing what a dead process left between two of its transactions.

Every write is one transaction, so a killed process leaves each either fully there or not
there; what it can leave is work *between* transactions (docs/reliability.md, "What kill -9
at any point leaves behind"). Each kind has one owner here, and `Recovery.at_open` (called
by `Engine.open`) runs them in this order:

1. `interrupted_approvals`: an approved request whose approving process ended before its
   run's outcome → run status `interrupted`, audited, saying whether the run had started.
2. `orphaned_runs`: a run lease (`engine.leases`) whose process is gone (on this host; on
   a database shared across hosts, also another host's lease whose heartbeat expired) → a
   `run_interrupted` outcome, exactly once (runs of approved requests are step 1's).
3. `orphaned_tasks`: a task `running` under an owner that is gone → `interrupted` (its
   running step too), through `TaskStore.transition`; `resume` decides what runs again.

A live owner always wins: on this host its pid and process start time are asked
(`engine.liveness`), so a suspended process or one with a clock running ahead keeps its
work; a heartbeat decides only where the process cannot be asked. Each step is also safe
to run at any time (`TaskService.resume` runs step 1 when a task waits on an approved run,
`RunLeases.holder` reaps the one lease it meets), and each claims its row with a
conditional UPDATE, so two processes recovering at once record every outcome once.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import partial

from engine.approvals import ApprovalRequest
from engine.audit import AuditEntry, AuditLog
from engine.clock import Clock
from engine.events import RunFinished
from engine.leases import Lease, RunLeases
from engine.liveness import pid_alive
from engine.statuses import ApprovalStatus, RunStatus
from engine.storage.database import Database, SyncTransaction
from engine.tasks.active import ACTIVE_RUNS
from engine.tasks.claims import task_owner_alive
from engine.tasks.models import StepStatus, TaskStatus
from engine.tasks.store import TaskStore


@dataclass(frozen=True)
class Recovered:
    """What one pass found and finished: request ids, run trace ids, task ids."""

    approvals: tuple[str, ...]
    runs: tuple[str, ...]
    tasks: tuple[str, ...]


class Recovery:
    """The three reapers, in one place."""

    def __init__(
        self, db: Database, audit: AuditLog, leases: RunLeases, tasks: TaskStore, clock: Clock
    ) -> None:
        self._db = db
        self._audit = audit
        self._leases = leases
        self._tasks = tasks
        self._clock = clock

    async def at_open(self) -> Recovered:
        """All three, in order (see the module docstring)."""
        approvals = await self.interrupted_approvals()
        runs = await self.orphaned_runs()
        tasks = await self.orphaned_tasks()
        return Recovered(approvals, runs, tuple(tasks))

    # -- 1. approved requests whose approving process died --------------------------------

    async def interrupted_approvals(self) -> tuple[str, ...]:
        """Approved requests whose run was orphaned: the approving process (on this machine)
        ended before recording the outcome. Each is marked `interrupted` and audited, saying
        whether the run had started, so nothing (a task, the inbox) waits for it forever."""
        rows = await self._db.fetchall(
            "SELECT * FROM approval_requests WHERE status = ? AND run_status IS NULL "
            "AND run_owner_host = ? AND run_owner_pid != ?",
            (ApprovalStatus.APPROVED, socket.gethostname(), os.getpid()),
        )
        orphans = [
            request
            for request in map(ApprovalRequest.from_row, rows)
            if request.run_owner_pid and pid_alive(request.run_owner_pid) is False
        ]
        reaped = [request.id for request in orphans if await self.mark_interrupted(request)]
        return tuple(reaped)

    async def mark_interrupted(self, request: ApprovalRequest) -> bool:
        """Record the approved `request`'s run as interrupted and audit it (a console quitting
        with it in flight, after the operator confirmed); False when another process
        recorded its outcome first."""
        return await self._db.write(partial(self._mark_interrupted, request=request))

    def _mark_interrupted(self, stx: SyncTransaction, request: ApprovalRequest) -> bool:
        claimed = stx.execute(
            "UPDATE approval_requests SET run_status = ? WHERE id = ? AND run_status IS NULL",
            (RunStatus.INTERRUPTED, request.id),
        )
        if claimed.rowcount != 1:
            return False  # another process reaped it first
        started = stx.fetchone(
            "SELECT id FROM audit WHERE approval_id = ? AND action = 'run_start'", (request.id,)
        )
        what = (
            f"it had started (audit record {started[0]}): check what it changed"
            if started
            else "it had not started: nothing was executed"
        )
        audit_id = self._audit.append_sync(
            stx,
            AuditEntry(
                actor="system",
                action="approval_run_interrupted",
                tool=request.tool,
                status=RunStatus.INTERRUPTED,
                error=(
                    f"the approved run of {request.tool} was interrupted: the approving process "
                    f"({request.run_owner_host} pid {request.run_owner_pid}) ended before it "
                    f"finished; {what}"
                ),
                approval_id=request.id,
                trace_id=request.trace_id,
                task_id=request.task_id,
            ),
        )
        stx.execute(
            "UPDATE approval_requests SET run_audit_id = ? WHERE id = ?", (audit_id, request.id)
        )
        stx.emit(RunFinished(audit_id, request.tool, RunStatus.INTERRUPTED, request.trace_id or ""))
        return True

    # -- 2. runs whose process died --------------------------------------------------------

    async def orphaned_runs(self) -> tuple[str, ...]:
        """Give every run orphaned by a dead process on this host its `run_interrupted`
        outcome; returns their trace ids. Runs of approved requests are left to
        `interrupted_approvals` (run it first)."""
        # This process's own leases are alive (owner_gone says so), unless they were left by
        # an earlier process that had the same pid.
        reaped: list[str] = []
        elsewhere = await self._leases.expired_elsewhere() if self._db.shared_across_hosts else []
        for lease in [*await self._leases.on_this_host(), *elsewhere]:
            if lease.for_request or not lease.owner_gone():
                continue
            if await self._db.write(partial(reap_lease, audit=self._audit, lease=lease)):
                reaped.append(lease.trace_id)
        return tuple(reaped)

    # -- 3. tasks whose owner died --------------------------------------------------------

    async def orphaned_tasks(self) -> list[str]:
        """Mark `running` tasks whose process is gone as `interrupted`, with the step that
        was running. A task is left alone while its owner is alive: driven in this process,
        or its owner is alive by `engine.tasks.claims.task_owner_alive`. Returns the ids."""
        now = self._clock.time()
        recovered: list[str] = []
        for task in await self._tasks.list([TaskStatus.RUNNING], limit=10_000):
            if ACTIVE_RUNS.get(task.id) == task.owner or task_owner_alive(task, now):
                continue
            reason = (
                f"its process ({task.owner_host} pid {task.owner_pid}) stopped while it was "
                "running; resume it to continue"
            )
            async with self._db.transaction() as tx:
                current = await self._tasks.task_in_tx(tx, task.id)
                # Running time counts until the owner was last seen alive.
                last_alive = current.heartbeat_at or current.run_started_at or now
                moved = await self._tasks.transition(
                    tx,
                    task.id,
                    {TaskStatus.RUNNING},
                    TaskStatus.INTERRUPTED,
                    actor="system",
                    reason=reason,
                    if_owner=task.owner,
                    ran_until=last_alive,
                )
                if not moved:
                    continue  # its owner finished it, or another process recovered it
                for step in await self._tasks.steps(task.id):
                    if step.status == StepStatus.RUNNING:
                        await self._tasks.update_step(
                            tx,
                            step,
                            StepStatus.INTERRUPTED,
                            error="its process stopped while this step was running",
                        )
            recovered.append(task.id)
        return recovered


def reap_lease(stx: SyncTransaction, audit: AuditLog, lease: Lease) -> bool:
    """Inside a write: record the `run_interrupted` outcome of an orphaned run and release
    its lease; False when its outcome was recorded or another process reaped it first."""
    held = stx.fetchone(
        "SELECT 1 FROM run_leases WHERE trace_id = ? AND owner_pid = ?",
        (lease.trace_id, lease.owner_pid),
    )
    if held is None:
        return False
    audit_id = audit.append_sync(
        stx,
        AuditEntry(
            actor="system",
            action="run_interrupted",
            tool=lease.tool,
            status=RunStatus.INTERRUPTED,
            error=(
                f"the run of {lease.tool} was interrupted: its process ({lease.owner}) "
                f"ended before it finished; it had started (audit record "
                f"{lease.start_id}): check what it changed"
            ),
            trace_id=lease.trace_id,
            task_id=lease.task_id,
            approval_id=lease.approval_id,
        ),
    )
    stx.execute("DELETE FROM run_leases WHERE trace_id = ?", (lease.trace_id,))
    stx.emit(RunFinished(audit_id, lease.tool or "", RunStatus.INTERRUPTED, lease.trace_id))
    return True
