"""`TaskService`: the one facade front ends use for tasks (SPEC §7).

    tasks = TaskService(eng)            # the engine exposes it as `eng.tasks`
    await tasks.recover()               # at open: dead owners' `running` tasks → interrupted
    task = await tasks.create_from_playbook("run_tests", {"path": "tests"})
    task = await tasks.run(task.id)     # returns when the task completes, fails, runs out of
                                        # budget, is cancelled, or waits for an approval
    task = await tasks.resume(task.id)  # after the operator decided: continues (or fails)
    task = await tasks.wait_and_resume(task.id, max_wait_sec=600)   # for agents: wait, then go on

`run`/`resume` never leave a task `running` when they return normally. A task waiting for an
approval does not hold a process: whoever resumes it later (any process) checks the request
and, if the approved run finished, takes its outcome without running the step again.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from engine.approvals import new_id
from engine.audit import AuditEntry
from engine.brain import Brain, BrainStatus
from engine.errors import ApprovalError, ConfigError, InputError, NotFoundError, TaskStateError
from engine.events import ApprovalDecided, RunFinished
from engine.liveness import owner_alive
from engine.runs import canonical_args
from engine.tasks.models import RESUMABLE, TERMINAL, Budget, StepStatus, Task, TaskStatus
from engine.tasks.playbooks import PLAYBOOK_DIR, Playbook, PlaybookLibrary, PlaybookStep
from engine.tasks.runner import ACTIVE_RUNS, RunOptions, TaskRunner
from engine.tasks.store import TaskStore

if TYPE_CHECKING:
    from pathlib import Path

    from engine.engine import Engine

STALE_HEARTBEAT_SEC = 60.0
MAX_GOAL_CHARS = 4000


class TaskService:
    """Create, list, run, resume, cancel and recover tasks."""

    def __init__(
        self,
        eng: Engine,
        *,
        brain: Brain | None = None,
        playbook_dir: Path | None = None,
    ) -> None:
        self.eng = eng
        self.store = TaskStore(eng.db)
        self.brain = brain or Brain(eng.settings)
        # `playbook_dir` (tests) replaces both; else the operator's own, then the examples.
        own = getattr(eng.settings, "daena_playbooks_dir", None)
        self.playbooks = (
            PlaybookLibrary(playbook_dir) if playbook_dir else PlaybookLibrary(own, PLAYBOOK_DIR)
        )
        self.runner = TaskRunner(eng, self.store, self.brain)

    # -- creating -------------------------------------------------------------------------

    async def create_from_playbook(
        self,
        name: str,
        variables: dict[str, Any] | None = None,
        *,
        goal: str | None = None,
        max_steps: int | None = None,
        max_retries: int | None = None,
        max_seconds: float | None = None,
        operator: str | None = None,
    ) -> Task:
        """A task running playbook `name` with `variables` filled in (validated now)."""
        playbook = self.playbooks.load(name)
        steps = playbook.render(variables or {})
        return await self.create(
            goal or playbook.description or f"playbook {playbook.name}",
            steps,
            source=f"playbook:{playbook.name}",
            variables=dict(variables or {}),
            max_steps=max_steps,
            max_retries=max_retries,
            max_seconds=max_seconds,
            operator=operator,
            playbook=playbook,
        )

    async def create_from_goal(
        self,
        goal: str,
        *,
        max_steps: int | None = None,
        max_retries: int | None = None,
        max_seconds: float | None = None,
        operator: str | None = None,
    ) -> Task:
        """A task whose steps the planner (Ollama) proposes one at a time."""
        return await self.create(
            goal,
            None,
            source="planner",
            max_steps=max_steps,
            max_retries=max_retries,
            max_seconds=max_seconds,
            operator=operator,
        )

    async def create(
        self,
        goal: str,
        steps: list[PlaybookStep] | None,
        *,
        source: str = "steps",
        variables: dict[str, Any] | None = None,
        max_steps: int | None = None,
        max_retries: int | None = None,
        max_seconds: float | None = None,
        operator: str | None = None,
        playbook: Playbook | None = None,
    ) -> Task:
        """The general form: a goal and explicit steps (None: the planner proposes them)."""
        goal = goal.strip()
        if not goal:
            raise InputError("goal: must not be empty")
        if len(goal) > MAX_GOAL_CHARS:
            raise InputError(f"goal: must be at most {MAX_GOAL_CHARS} characters")
        budget = await self._budget(max_steps, max_retries, max_seconds)
        checked = [self._checked_step(i, s, playbook) for i, s in enumerate(steps or [])]
        if steps is not None and not checked:
            raise InputError("steps: a task needs at least one step")
        operator = operator or self.eng.operator
        task_id = new_id("task")
        async with self.eng.db.transaction() as tx:
            await self.store.insert_task(
                tx,
                task_id=task_id,
                goal=goal,
                source=source,
                variables=variables or {},
                budget=budget,
                created_by=operator,
            )
            await self.store.append_steps(tx, task_id, checked, first_index=0)
            await self.eng.audit.append(
                tx,
                AuditEntry(
                    actor=operator,
                    action="task_created",
                    status=str(TaskStatus.PENDING),
                    task_id=task_id,
                    args={"goal": goal, "source": source, "variables": variables or {}},
                    result_summary=f"{len(checked)} steps" if steps is not None else "planner",
                ),
            )
        return await self.get(task_id)

    def _checked_step(
        self, index: int, step: PlaybookStep, playbook: Playbook | None
    ) -> PlaybookStep:
        where = f"{playbook.name}.json: " if playbook else ""
        if step.tool not in self.eng.registry:
            raise ConfigError(f"{where}steps.{index}.tool: unknown tool {step.tool!r}")
        try:
            _, canonical = canonical_args(self.eng.registry.get(step.tool), step.args)
        except InputError as err:
            raise InputError(f"{where}steps.{index}.{err.message}") from err
        return step.model_copy(update={"args": canonical})

    async def _budget(
        self, max_steps: int | None, max_retries: int | None, max_seconds: float | None
    ) -> Budget:
        config = await self.eng.config()
        values: dict[str, Any] = {
            "max_steps": config.max_steps_per_run,
            "max_retries": config.max_retries_per_tool,
        }
        given = {"max_steps": max_steps, "max_retries": max_retries, "max_seconds": max_seconds}
        values.update({k: v for k, v in given.items() if v is not None})
        try:
            return Budget.model_validate(values)
        except ValidationError as err:
            first = err.errors()[0]
            raise InputError(f"{first['loc'][0]}: {first['msg']}") from err

    # -- reading --------------------------------------------------------------------------

    async def get(self, task_id: str) -> Task:
        """One task with its steps and artifacts."""
        return await self.store.get(task_id)

    async def list(self, status: str | None = None, limit: int = 200) -> list[Task]:
        """Tasks newest first (without steps); `status` filters (None or "all": every task)."""
        if status in (None, "", "all"):
            return await self.store.list(None, limit)
        try:
            wanted = TaskStatus(status)
        except ValueError:
            raise InputError(
                f"status: {status!r} is not a task status "
                f"(one of: {', '.join(s.value for s in TaskStatus)})"
            ) from None
        return await self.store.list([wanted], limit)

    def list_playbooks(self) -> tuple[builtins.list[Playbook], builtins.list[str]]:
        """Valid playbooks and one message per invalid file."""
        return self.playbooks.load_all()

    async def brain_status(self) -> BrainStatus:
        return await self.brain.status()

    # -- running --------------------------------------------------------------------------

    async def run(
        self,
        task_id: str,
        *,
        operator: str | None = None,
        rerun_interrupted: bool = False,
        skip_interrupted: bool = False,
    ) -> Task:
        """Start a pending task (or continue a resumable one) until it stops or waits."""
        task = await self.store.get(task_id, details=False)
        if task.status != TaskStatus.PENDING:
            return await self.resume(
                task_id,
                operator=operator,
                rerun_interrupted=rerun_interrupted,
                skip_interrupted=skip_interrupted,
            )
        operator = operator or self.eng.operator
        if not await self.runner.claim(
            task_id, {TaskStatus.PENDING}, operator, f"started by {operator}"
        ):
            return await self._not_claimed(task_id)
        await self.runner.drive(task_id, RunOptions(rerun_interrupted, skip_interrupted))
        return await self.get(task_id)

    async def resume(
        self,
        task_id: str,
        *,
        operator: str | None = None,
        rerun_interrupted: bool = False,
        skip_interrupted: bool = False,
    ) -> Task:
        """Continue a waiting, interrupted or pending task.

        Waiting for approval: while the request is pending (or its approved run has not
        finished) the task is returned unchanged; approved → the run's outcome is the
        step's; denied or expired → the task fails with the reason. Interrupted: see
        `engine.tasks.runner` for when an interrupted step is re-run, skipped or adopted.
        """
        operator = operator or self.eng.operator
        options = RunOptions(rerun_interrupted, skip_interrupted)
        task = await self.get(task_id)
        if task.status == TaskStatus.PENDING:
            return await self.run(
                task_id,
                operator=operator,
                rerun_interrupted=rerun_interrupted,
                skip_interrupted=skip_interrupted,
            )
        if task.status == TaskStatus.RUNNING:
            raise InputError(
                f"id: task {task_id} is already running (owner {task.owner_host} "
                f"pid {task.owner_pid})"
            )
        if task.status in TERMINAL:
            raise InputError(f"id: task {task_id} is {task.status}; it cannot be resumed")
        if task.status == TaskStatus.WAITING_APPROVAL and await self._still_waiting(task):
            return task
        if task.status == TaskStatus.INTERRUPTED:
            for step in task.steps:
                if step.status in (StepStatus.INTERRUPTED, StepStatus.RUNNING):
                    plan = await self.runner.reconcile_plan(task, step, options)
                    if plan.action in ("ask", "busy"):
                        raise TaskStateError(f"id: task {task_id}: {plan.message}")
        note = f"resumed by {operator} (was {task.status})"
        if not await self.runner.claim(task_id, {task.status}, operator, note):
            return await self._not_claimed(task_id)
        await self.runner.drive(task_id, options)
        return await self.get(task_id)

    async def _still_waiting(self, task: Task) -> bool:
        step = task.waiting_step()
        if step is None or step.approval_request_id is None:
            return False
        try:
            request = await self.eng.approvals.get(step.approval_request_id)
        except NotFoundError:
            return False
        if request.status == "approved" and request.run_status is None:
            # In progress, unless the approving process died (then it is marked interrupted).
            return request.id not in await self.eng.approvals.reap_interrupted_runs()
        return request.is_pending

    async def _not_claimed(self, task_id: str) -> Task:
        """Someone else moved the task first (another process, a cancel): report as it is."""
        task = await self.get(task_id)
        if task.status in RESUMABLE:
            return task
        if task.status == TaskStatus.RUNNING:
            raise InputError(f"id: task {task_id} was started by another run meanwhile")
        return task

    async def wait_and_resume(
        self,
        task_id: str,
        *,
        max_wait_sec: float | None = None,
        poll_sec: float = 1.0,
        operator: str | None = None,
    ) -> Task:
        """Run/resume the task, and while it waits for an approval wait for the decision
        (events from this process at once, other processes' within `poll_sec`), then go on.
        Returns when it stops for another reason, or still waiting after `max_wait_sec`."""
        deadline = None if max_wait_sec is None else time.monotonic() + max_wait_sec
        with self.eng.bus.subscription() as queue:
            while True:
                task = await self.get(task_id)
                if task.status in RESUMABLE:
                    task = await self.resume(task_id, operator=operator)
                if task.status != TaskStatus.WAITING_APPROVAL:
                    return task
                wait = poll_sec
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        return task
                with contextlib.suppress(TimeoutError):
                    while True:
                        event = await asyncio.wait_for(queue.get(), wait)
                        if isinstance(event, ApprovalDecided | RunFinished):
                            break

    async def cancel(self, task_id: str, reason: str = "", operator: str | None = None) -> Task:
        """Stop a task that has not finished; a pending approval request it made is denied.
        A step running in this moment finishes (its tool has its own timeout); the task
        takes no further step."""
        operator = operator or self.eng.operator
        task = await self.get(task_id)
        if task.status in TERMINAL:
            raise InputError(f"id: task {task_id} is already {task.status}")
        note = f"cancelled by {operator}" + (f": {reason.strip()}" if reason.strip() else "")
        now = time.time()
        async with self.eng.db.transaction() as tx:
            current = await self.store.task_in_tx(tx, task_id)
            elapsed = current.running_seconds(now)
            ok = await self.store.set_status(
                tx,
                task_id,
                TaskStatus.CANCELLED,
                expected=set(TaskStatus) - TERMINAL,
                reason=note,
                extra={"elapsed_sec": elapsed, "run_started_at": None},
            )
            if not ok:
                raise InputError(f"id: task {task_id} finished before it could be cancelled")
            await self.eng.audit.append(
                tx,
                AuditEntry(
                    actor=operator,
                    action="task_cancelled",
                    status=str(TaskStatus.CANCELLED),
                    task_id=task_id,
                    result_summary=note,
                ),
            )
            steps = await self.store.steps(task_id)
            waiting = next((s for s in steps if s.status == StepStatus.WAITING_APPROVAL), None)
            if waiting is not None:
                await self.store.update_step(
                    tx, waiting, StepStatus.SKIPPED, finished_at=now, error="task cancelled"
                )
        if waiting is not None and waiting.approval_request_id:
            with contextlib.suppress(ApprovalError, NotFoundError):
                await self.eng.deny(
                    waiting.approval_request_id, f"task {task_id} was cancelled", operator
                )
        return await self.get(task_id)

    # -- restart --------------------------------------------------------------------------

    async def recover(self) -> builtins.list[str]:
        """Mark `running` tasks whose process is gone as `interrupted` (call at open).

        A task is left alone while its owner is alive: driven in this process, or its
        process on this host still exists (see `_owner_alive`). Returns the ids."""
        now = time.time()
        recovered: builtins.list[str] = []
        for task in await self.store.list([TaskStatus.RUNNING], limit=10_000):
            if ACTIVE_RUNS.get(task.id) == task.owner or self._owner_alive(task, now):
                continue
            reason = (
                f"its process ({task.owner_host} pid {task.owner_pid}) stopped while it was "
                "running; resume it to continue"
            )
            async with self.eng.db.transaction() as tx:
                current = await self.store.task_in_tx(tx, task.id)
                if current.status != TaskStatus.RUNNING or current.owner != task.owner:
                    continue
                for step in await self.store.steps(task.id):
                    if step.status == StepStatus.RUNNING:
                        await self.store.update_step(
                            tx,
                            step,
                            StepStatus.INTERRUPTED,
                            error="its process stopped while this step was running",
                        )
                last_alive = current.heartbeat_at or current.run_started_at or now
                ran = max(0.0, last_alive - (current.run_started_at or last_alive))
                await self.store.set_status(
                    tx,
                    task.id,
                    TaskStatus.INTERRUPTED,
                    expected={TaskStatus.RUNNING},
                    owner=task.owner,
                    reason=reason,
                    extra={"elapsed_sec": current.elapsed_sec + ran, "run_started_at": None},
                )
                await self.eng.audit.append(
                    tx,
                    AuditEntry(
                        actor="system",
                        action="task_interrupted",
                        status=str(TaskStatus.INTERRUPTED),
                        task_id=task.id,
                        result_summary=reason,
                    ),
                )
            recovered.append(task.id)
        return recovered

    @staticmethod
    def _owner_alive(task: Task, now: float) -> bool:
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
