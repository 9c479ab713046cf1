"""Drives one task: its steps through `eng.run` (policy, approvals, audit), the budget guard,
approval waits, interruptions and the planner.

Ownership: a runner first *claims* a task (a conditional UPDATE to `running` that records
this process as the owner), so two processes can never drive the same task. Every later
write checks the owner; an operator's cancel is seen at the next step boundary.

Crash safety: a step is written `running` (with the current last audit id as its *mark*)
before its tool runs, and its outcome after. A step found `running`/`interrupted` later is
reconciled from the audit log, where the executor records `run_start` before a tool
executes and the `run` outcome when it finishes (each committed before going on):
- a `run`/`dry_run` record of that step's tool for this task after the mark → the tool did
  run (or was refused, or asked for approval); that outcome is adopted, nothing runs again;
- no `run_start` after the mark either → the tool never started: it is simply run;
- `run_start` without an outcome → while that run's lease (`engine.leases`) is held by a
  process that is alive, the run may still be going: nothing is rerun or skipped, `resume`
  says where it runs. Once its process is gone the tool may have run, partly or fully: it
  is run again only when it is low risk (read-only) or the operator resumes with
  `rerun_interrupted`; `skip_interrupted` marks it skipped instead; without either,
  `resume` refuses and says so. A step left this way ends the task `interrupted`.
- an approved request whose run was interrupted (the approving process died): the step is
  interrupted too; it is asked for again (a new approval request) when its run never
  started, and otherwise follows the rule above: what runs again is approved again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engine.audit import AuditRecord
from engine.brain import Brain
from engine.errors import EngineError, NotFoundError
from engine.liveness import process_token
from engine.runs import RunRequest
from engine.statuses import ApprovalStatus, RunStatus
from engine.storage.database import Transaction
from engine.tasks import claims
from engine.tasks.active import ACTIVE_RUNS
from engine.tasks.budget import BudgetGuard
from engine.tasks.models import StepStatus, Task, TaskStatus, TaskStep
from engine.tasks.planner import PlannerSession, TaskPlanner
from engine.tasks.playbooks import PlaybookStep
from engine.tasks.store import TaskStore
from engine.tools.spec import Risk

if TYPE_CHECKING:
    from engine.engine import Engine

HEARTBEAT_SEC = 5.0


class Outcome(StrEnum):
    NEXT = "next"
    RETRY = "retry"
    WAITING = "waiting"
    FAILED = "failed"
    REFUSED = "refused"
    DENIED = "denied"
    OUT_OF_TIME = "out_of_time"
    INTERRUPTED = "interrupted"
    STOPPED = "stopped"


@dataclass(frozen=True)
class RunOptions:
    rerun_interrupted: bool = False
    skip_interrupted: bool = False


class Action(StrEnum):
    """What to do with an interrupted step."""

    ADOPT = "adopt"  # its run was audited: take that outcome
    RERUN = "rerun"
    SKIP = "skip"
    ASK = "ask"  # it may have run: only the operator's explicit choice goes on
    BUSY = "busy"  # its run may still be going in a live process


WAITS_FOR_OPERATOR = frozenset({Action.ASK, Action.BUSY})


@dataclass(frozen=True)
class Reconcile:
    """What to do with an interrupted step: adopt its audited run, rerun, skip, or ask."""

    action: Action
    record: AuditRecord | None = None
    message: str = ""


def new_owner() -> tuple[str, int, str]:
    """(owner token, pid, host) for a runner in this process."""
    host = socket.gethostname()
    pid = os.getpid()
    return f"{host}:{pid}:{os.urandom(4).hex()}", pid, host


class TaskRunner:
    """One per TaskService; drives any number of tasks, one coroutine each."""

    def __init__(self, eng: Engine, store: TaskStore, brain: Brain) -> None:
        self.eng = eng
        self.store = store
        self.brain = brain
        self.owner, self.pid, self.host = new_owner()
        self.started = process_token(self.pid)
        self.heartbeat_sec = HEARTBEAT_SEC
        self.planner = TaskPlanner(eng, store, brain)

    # -- claiming and finishing -----------------------------------------------------------

    async def claim(self, task_id: str, expected: set[TaskStatus], actor: str, note: str) -> bool:
        """Move the task to `running` as this runner's; False when it was not in `expected`."""
        async with self.eng.db.transaction() as tx:
            return await self.store.transition(
                tx,
                task_id,
                expected,
                TaskStatus.RUNNING,
                actor=actor,
                reason=note,
                **self.owner_fields,
            )

    async def claim_next(self, actor: str) -> str | None:
        """Claim the next runnable task as this runner's (`engine.tasks.claims`): its id,
        or None when no task is waiting for a worker."""
        async with self.eng.db.transaction() as tx:
            return await claims.claim_next(
                tx,
                self.store,
                self.eng.clock,
                self.eng.db.dialect,
                actor,
                self.owner_fields,
                ACTIVE_RUNS,
            )

    @property
    def owner_fields(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "owner_pid": self.pid,
            "owner_host": self.host,
            "owner_started": self.started,
        }

    async def finish(
        self,
        task_id: str,
        status: TaskStatus,
        reason: str,
        *,
        artifact: tuple[str, str] | None = None,
    ) -> bool:
        """Leave `running` for `status` (only while this runner holds the task)."""
        async with self.eng.db.transaction() as tx:
            return await self.store.transition(
                tx,
                task_id,
                {TaskStatus.RUNNING},
                status,
                actor=f"task:{task_id}",
                reason=reason,
                if_owner=self.owner,
                artifact=artifact,
            )

    # -- the loop -------------------------------------------------------------------------

    async def drive(self, task_id: str, options: RunOptions) -> None:
        """Run a claimed task until it completes, fails, waits or is stopped."""
        ACTIVE_RUNS[task_id] = self.owner
        beat = asyncio.create_task(self._heartbeat(task_id), name=f"task-heartbeat-{task_id}")
        try:
            await self._loop(task_id, options)
        except asyncio.CancelledError:
            await self._abandon(task_id, TaskStatus.INTERRUPTED, "the run was stopped")
            raise
        except Exception as err:
            what = err.message if isinstance(err, EngineError) else f"{type(err).__name__}: {err}"
            await self._abandon(task_id, TaskStatus.FAILED, f"internal error: {what}")
            raise
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            ACTIVE_RUNS.pop(task_id, None)

    async def _heartbeat(self, task_id: str) -> None:
        while True:
            await self.eng.clock.sleep(self.heartbeat_sec)
            with contextlib.suppress(EngineError):
                await self.store.heartbeat(task_id, self.owner)

    async def _abandon(self, task_id: str, status: TaskStatus, reason: str) -> None:
        """Best effort: never leave a task `running` under an owner that has stopped."""
        with contextlib.suppress(Exception):
            async with self.eng.db.transaction() as tx:
                if await self.store.transition(
                    tx,
                    task_id,
                    {TaskStatus.RUNNING},
                    status,
                    actor="system",
                    reason=reason,
                    if_owner=self.owner,
                ):
                    for step in await self.store.steps(task_id):
                        if step.status == StepStatus.RUNNING:
                            await self.store.update_step(tx, step, StepStatus.INTERRUPTED)

    async def _loop(self, task_id: str, options: RunOptions) -> None:
        session = PlannerSession()
        config = await self.eng.config()
        while True:
            task = await self.store.get(task_id)
            if task.status != TaskStatus.RUNNING or task.owner != self.owner:
                return  # cancelled, or taken over after this process was presumed dead
            guard = BudgetGuard(task, config)
            step = next((s for s in task.steps if not s.status.finished), None)
            if step is None:
                if not task.planner:
                    done = len(task.steps)
                    await self.finish(task_id, TaskStatus.COMPLETED, f"all {done} steps finished")
                    return
                if guard.out_of_time(task, self.eng.clock.time()):
                    await self.finish(task_id, TaskStatus.BUDGET_EXHAUSTED, guard.time_message())
                    return
                if await self._plan(task, guard, session):
                    continue
                return
            if step.status == StepStatus.WAITING_APPROVAL:
                outcome, message = await self._resolve_waiting(task, step, guard, options)
            elif step.status in (StepStatus.INTERRUPTED, StepStatus.RUNNING):
                outcome, message = await self._reconcile(task, step, guard, options)
            elif step.attempts == 0 and not guard.may_start_step(task.steps_started):
                await self.finish(
                    task_id,
                    TaskStatus.BUDGET_EXHAUSTED,
                    f"{guard.steps_message()}; step {step.index + 1} ({step.tool}) was not run",
                )
                return
            else:
                outcome, message = await self._attempt(task, step, guard)
            if not await self._after(task, step, outcome, message, guard):
                return

    async def _after(
        self, task: Task, step: TaskStep, outcome: Outcome, message: str, guard: BudgetGuard
    ) -> bool:
        """Act on a step's outcome; True to go on with the next step."""
        label = f"step {step.index + 1} ({step.tool})"
        if outcome in (Outcome.NEXT, Outcome.RETRY):
            return True
        if outcome == Outcome.FAILED and step.continue_on_failure:
            return True
        if outcome == Outcome.WAITING:
            await self.finish(
                task.id, TaskStatus.WAITING_APPROVAL, f"{label} waits for approval: {message}"
            )
        elif outcome == Outcome.FAILED:
            await self.finish(task.id, TaskStatus.FAILED, f"{label} failed: {message}")
        elif outcome == Outcome.REFUSED:
            await self.finish(task.id, TaskStatus.FAILED, f"{label} was refused: {message}")
        elif outcome == Outcome.DENIED:
            await self.finish(task.id, TaskStatus.FAILED, f"{label}: {message}")
        elif outcome == Outcome.OUT_OF_TIME:
            await self.finish(task.id, TaskStatus.BUDGET_EXHAUSTED, guard.time_message())
        elif outcome == Outcome.INTERRUPTED:
            await self.finish(task.id, TaskStatus.INTERRUPTED, message)
        return False

    # -- one step -------------------------------------------------------------------------

    async def _holding(self, tx: Transaction, task_id: str) -> bool:
        return await self.store.held_by(tx, task_id, self.owner)

    async def _attempt(self, task: Task, step: TaskStep, guard: BudgetGuard) -> tuple[Outcome, str]:
        if guard.out_of_time(task, self.eng.clock.time()):
            return Outcome.OUT_OF_TIME, ""
        mark = await self.eng.audit.last_id()
        now = self.eng.clock.time()
        async with self.eng.db.transaction() as tx:
            if not await self._holding(tx, task.id):
                return Outcome.STOPPED, ""
            await self.store.update_step(
                tx,
                step,
                StepStatus.RUNNING,
                attempts=step.attempts + 1,
                started_at=step.started_at or now,
                finished_at=None,
                audit_mark=mark,
                approval_request_id=None,
            )
        step = step.model_copy(update={"attempts": step.attempts + 1, "audit_mark": mark})
        result = await self.eng.run(
            RunRequest(
                tool=step.tool,
                args=step.args,
                dry_run=True if step.dry_run else None,
                requester=f"task:{task.id}",
                task_id=task.id,
                reason=f"task {task.id} step {step.index + 1}: {task.goal[:300]}",
            )
        )
        record = await self.eng.audit.get(result.audit_id) if result.audit_id else None
        return await self._apply(
            task, step, str(result.status), record, result.approval_request_id, guard, result.error
        )

    async def _apply(
        self,
        task: Task,
        step: TaskStep,
        run_status: str,
        record: AuditRecord | None,
        request_id: str | None,
        guard: BudgetGuard,
        error: str | None = None,
    ) -> tuple[Outcome, str]:
        """Record a run's outcome on its step (redacted, from the audit record)."""
        if record is not None:
            error = record.error
        summary = record.result_summary if record is not None else None
        fields: dict[str, Any] = {
            "run_status": run_status,
            "result_summary": summary,
            "error": error,
            "audit_id": record.id if record is not None else None,
        }
        now = self.eng.clock.time()
        async with self.eng.db.transaction() as tx:
            if not await self._holding(tx, task.id):
                return Outcome.STOPPED, ""
            if run_status in (RunStatus.OK, RunStatus.DRY_RUN):
                await self.store.update_step(
                    tx, step, StepStatus.SUCCEEDED, finished_at=now, **fields
                )
                return Outcome.NEXT, ""
            if run_status == RunStatus.PENDING_APPROVAL:
                await self.store.update_step(
                    tx, step, StepStatus.WAITING_APPROVAL, approval_request_id=request_id, **fields
                )
                return Outcome.WAITING, f"request {request_id}"
            message = error or run_status
            if run_status == RunStatus.REFUSED:
                await self.store.update_step(tx, step, StepStatus.FAILED, finished_at=now, **fields)
                return Outcome.REFUSED, message
            if guard.may_retry(step):
                await self.store.update_step(tx, step, StepStatus.PENDING, **fields)
                return Outcome.RETRY, message
            await self.store.update_step(tx, step, StepStatus.FAILED, finished_at=now, **fields)
            tries = f" after {step.attempts} attempts" if step.attempts > 1 else ""
            return Outcome.FAILED, f"{message}{tries}"

    async def _fail_step(self, task: Task, step: TaskStep, error: str) -> None:
        async with self.eng.db.transaction() as tx:
            if await self._holding(tx, task.id):
                await self.store.update_step(
                    tx, step, StepStatus.FAILED, error=error, finished_at=self.eng.clock.time()
                )

    async def _resolve_waiting(
        self, task: Task, step: TaskStep, guard: BudgetGuard, options: RunOptions
    ) -> tuple[Outcome, str]:
        """A waiting step's request was decided (or not): take the approved run's outcome."""
        if step.approval_request_id is None:
            return await self._reconcile(task, step, guard, RunOptions())
        try:
            request = await self.eng.approvals.get(step.approval_request_id)
        except NotFoundError:
            message = f"approval request {step.approval_request_id} no longer exists"
            await self._fail_step(task, step, message)
            return Outcome.DENIED, message
        if request.status == ApprovalStatus.APPROVED:
            if request.run_status == RunStatus.INTERRUPTED:
                record = await self.eng.audit.get(request.run_audit_id or 0)
                async with self.eng.db.transaction() as tx:
                    if not await self._holding(tx, task.id):
                        return Outcome.STOPPED, ""
                    error = record.error if record is not None else "its approved run stopped"
                    await self.store.update_step(tx, step, StepStatus.INTERRUPTED, error=error)
                step = step.model_copy(update={"status": StepStatus.INTERRUPTED})
                return await self._reconcile(task, step, guard, options)
            if request.run_status is None:
                return Outcome.WAITING, f"request {request.id} was approved; its run is in progress"
            record = (
                await self.eng.audit.get(request.run_audit_id) if request.run_audit_id else None
            )
            return await self._apply(task, step, request.run_status, record, None, guard)
        if request.status == ApprovalStatus.DENIED:
            message = (
                f"approval request {request.id} was denied by {request.decided_by}: "
                f"{request.decision_reason or 'no reason given'}"
            )
            await self._fail_step(task, step, message)
            return Outcome.DENIED, message
        if request.status == ApprovalStatus.EXPIRED or not self.eng.approvals.is_pending(request):
            await self.eng.approvals.sweep_expired()
            message = f"approval request {request.id} expired before an operator decided it"
            await self._fail_step(task, step, message)
            return Outcome.DENIED, message
        return Outcome.WAITING, f"request {request.id}"

    # -- interruptions --------------------------------------------------------------------

    async def audited(
        self, task_id: str, step: TaskStep, actions: tuple[str, ...]
    ) -> AuditRecord | None:
        """The newest record of this step's tool for the task, after the step's mark."""
        if step.audit_mark is None:
            return None
        found = await self.store.newest_step_record(task_id, step.tool, step.audit_mark, actions)
        return await self.eng.audit.get(found) if found is not None else None

    def risk_of(self, tool: str) -> Risk:
        return self.eng.registry.get(tool).risk if tool in self.eng.registry else Risk.HIGH

    async def reconcile_plan(self, task: Task, step: TaskStep, options: RunOptions) -> Reconcile:
        label = f"step {step.index + 1} ({step.tool}, {self.risk_of(step.tool)} risk)"
        approved = await self._interrupted_approval(step)
        if approved is not None:
            request_id, started = approved
            if not started:
                return Reconcile(Action.RERUN, message="its approved run never started")
            return self._choose(
                options,
                f"{label} was approved (request {request_id}) but the approving process "
                f"stopped while it ran; it may already have run",
            )
        record = await self.audited(task.id, step, ("run", "dry_run"))
        if record is not None:
            return Reconcile(Action.ADOPT, record)
        start = await self.audited(task.id, step, ("run_start",))
        if start is not None and start.trace_id:
            lease = await self.eng.leases.holder(start.trace_id)
            if lease is not None:
                return Reconcile(
                    Action.BUSY,
                    message=(
                        f"{label} is still running in process {lease.owner} (run "
                        f"{start.trace_id}); it is neither run again nor skipped while it may "
                        f"still be going: wait for it to finish, or stop that process, then "
                        f"resume"
                    ),
                )
        if options.skip_interrupted:
            return Reconcile(Action.SKIP)
        if step.audit_mark is not None and start is None:
            return Reconcile(Action.RERUN, message="it never started")
        if self.risk_of(step.tool) == Risk.LOW:
            return Reconcile(Action.RERUN)
        return self._choose(
            options, f"{label} was running when its process stopped and may already have run"
        )

    @staticmethod
    def _choose(options: RunOptions, what: str) -> Reconcile:
        """The operator's explicit choice for a step that may have run, or the question."""
        if options.skip_interrupted:
            return Reconcile(Action.SKIP)
        if options.rerun_interrupted:
            return Reconcile(Action.RERUN)
        return Reconcile(
            Action.ASK,
            message=(
                f"{what}; resume with rerun_interrupted (--rerun-interrupted) to run it again, "
                f"skip_interrupted (--skip-interrupted) to go on without it, or cancel the task"
            ),
        )

    async def _interrupted_approval(self, step: TaskStep) -> tuple[str, bool] | None:
        """(request id, whether its run had started) when the step's approved run was
        interrupted by the death of the approving process."""
        if step.approval_request_id is None:
            return None
        try:
            request = await self.eng.approvals.get(step.approval_request_id)
        except NotFoundError:
            return None
        if request.status != ApprovalStatus.APPROVED or request.run_status != RunStatus.INTERRUPTED:
            return None
        return request.id, await self.store.approved_run_started(request.id)

    async def _reconcile(
        self, task: Task, step: TaskStep, guard: BudgetGuard, options: RunOptions
    ) -> tuple[Outcome, str]:
        plan = await self.reconcile_plan(task, step, options)
        if plan.action == Action.ADOPT and plan.record is not None:
            record = plan.record
            request_id = record.approval_id if record.status == RunStatus.PENDING_APPROVAL else None
            return await self._apply(task, step, record.status, record, request_id, guard)
        async with self.eng.db.transaction() as tx:
            if not await self._holding(tx, task.id):
                return Outcome.STOPPED, ""
            if plan.action in WAITS_FOR_OPERATOR:
                if step.status != StepStatus.INTERRUPTED:
                    await self.store.update_step(tx, step, StepStatus.INTERRUPTED)
                return Outcome.INTERRUPTED, plan.message
            if plan.action == Action.SKIP:
                await self.store.update_step(
                    tx,
                    step,
                    StepStatus.SKIPPED,
                    finished_at=self.eng.clock.time(),
                    error="skipped by the operator after an interruption",
                )
            else:
                await self.store.update_step(
                    tx, step, StepStatus.PENDING, error="interrupted; run again on resume"
                )
        return Outcome.NEXT, ""

    # -- the planner ----------------------------------------------------------------------

    async def _plan(self, task: Task, guard: BudgetGuard, session: PlannerSession) -> bool:
        """Ask the planner for the next call(s); True to go on (steps added, or ask again)."""
        decision = await self.planner.decide(task, guard, session)
        if decision.status is not None:
            await self.finish(task.id, decision.status, decision.reason, artifact=decision.artifact)
            return False
        if decision.calls:
            async with self.eng.db.transaction() as tx:
                if not await self._holding(tx, task.id):
                    return False
                await self.store.append_steps(
                    tx,
                    task.id,
                    [
                        PlaybookStep(tool=c.tool, args=c.args, title=f"proposed by {session.model}")
                        for c in decision.calls
                    ],
                    first_index=len(task.steps),
                )
        return True
