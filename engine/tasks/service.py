"""`TaskService`: the one facade front ends use for tasks (docs/architecture.md, "Flow (c): a
task step waiting for approval").

    tasks = TaskService(eng)            # the engine exposes it as `eng.tasks`
    task = await tasks.create_from_playbook("run_tests", {"path": "tests"})
    task = await tasks.run(task.id)     # returns when the task completes, fails, runs out of
                                        # budget, is cancelled, or waits for an approval
    task = await tasks.resume(task.id)  # after the operator decided: continues (or fails)
    task = await tasks.wait_and_resume(task.id, max_wait_sec=600)   # for agents: wait, then go on

`run`/`resume` never leave a task `running` when they return normally. A task waiting for an
approval does not hold a process: whoever resumes it later (any process) checks the request
and, if the approved run finished, takes its outcome without running the step again. A task
whose owner died is found by `engine.recovery` when the next engine opens.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from engine.approvals import new_id
from engine.audit import AuditEntry
from engine.brain import Brain, BrainStatus
from engine.errors import ApprovalError, ConfigError, InputError, NotFoundError, TaskStateError
from engine.events import ApprovalDecided, Event, RunFinished
from engine.runs import canonical_args
from engine.statuses import ApprovalStatus
from engine.tasks.models import RESUMABLE, TERMINAL, Budget, StepStatus, Task, TaskStatus
from engine.tasks.playbooks import PLAYBOOK_DIR, Playbook, PlaybookLibrary, PlaybookStep
from engine.tasks.runner import WAITS_FOR_OPERATOR, RunOptions, TaskRunner
from engine.tasks.store import TaskStore

if TYPE_CHECKING:
    from pathlib import Path

    from engine.engine import Engine

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
        self.store = TaskStore(eng.db, eng.audit, eng.clock)
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
        return await self.store.list(_statuses(status), limit)

    async def count(self, status: str | None = None) -> int:
        """How many tasks `list(status)` would return without its limit."""
        return await self.store.count(_statuses(status))

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

    async def run_next(self, *, operator: str | None = None) -> Task | None:
        """As a worker: claim the oldest task waiting for one (pending, or left running by
        an owner that is gone: `engine.tasks.claims`) and drive it until it stops or
        waits; None when there is none. Workers on any number of hosts may call this at
        once: each gets a different task."""
        operator = operator or self.eng.operator
        task_id = await self.runner.claim_next(operator)
        if task_id is None:
            return None
        await self.runner.drive(task_id, RunOptions())
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
                    if plan.action in WAITS_FOR_OPERATOR:
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
        if request.status == ApprovalStatus.APPROVED and request.run_status is None:
            # In progress, unless the approving process died (then it is marked interrupted).
            return request.id not in await self.eng.recovery.interrupted_approvals()
        return self.eng.approvals.is_pending(request)

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
        clock = self.eng.clock
        deadline = None if max_wait_sec is None else clock.monotonic() + max_wait_sec
        with self.eng.bus.subscription() as queue:
            while True:
                task = await self.get(task_id)
                if task.status in RESUMABLE:
                    task = await self.resume(task_id, operator=operator)
                if task.status != TaskStatus.WAITING_APPROVAL:
                    return task
                wait = poll_sec
                if deadline is not None:
                    wait = min(wait, deadline - clock.monotonic())
                    if wait <= 0:
                        return task
                await self._decision_or_timeout(queue, wait)

    async def _decision_or_timeout(self, queue: asyncio.Queue[Event], seconds: float) -> None:
        """Until a decision or a run's end is published, or `seconds` pass on the clock."""

        async def decision() -> None:
            while not isinstance(await queue.get(), ApprovalDecided | RunFinished):
                pass

        waiter = asyncio.ensure_future(decision())
        timer = asyncio.ensure_future(self.eng.clock.sleep(seconds))
        try:
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (waiter, timer):
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending

    async def cancel(self, task_id: str, reason: str = "", operator: str | None = None) -> Task:
        """Stop a task that has not finished; a pending approval request it made is denied.
        A step running in this moment finishes (its tool has its own timeout); the task
        takes no further step."""
        operator = operator or self.eng.operator
        task = await self.get(task_id)
        if task.status in TERMINAL:
            raise InputError(f"id: task {task_id} is already {task.status}")
        note = f"cancelled by {operator}" + (f": {reason.strip()}" if reason.strip() else "")
        async with self.eng.db.transaction() as tx:
            ok = await self.store.transition(
                tx,
                task_id,
                set(TaskStatus) - TERMINAL,
                TaskStatus.CANCELLED,
                actor=operator,
                reason=note,
            )
            if not ok:
                raise InputError(f"id: task {task_id} finished before it could be cancelled")
            steps = await self.store.steps(task_id)
            waiting = next((s for s in steps if s.status == StepStatus.WAITING_APPROVAL), None)
            if waiting is not None:
                await self.store.update_step(
                    tx,
                    waiting,
                    StepStatus.SKIPPED,
                    finished_at=self.eng.clock.time(),
                    error="task cancelled",
                )
        if waiting is not None and waiting.approval_request_id:
            with contextlib.suppress(ApprovalError, NotFoundError):
                await self.eng.deny(
                    waiting.approval_request_id, f"task {task_id} was cancelled", operator
                )
        return await self.get(task_id)

    # -- restart --------------------------------------------------------------------------

    async def recover(self) -> builtins.list[str]:
        """Mark `running` tasks whose process is gone as `interrupted` (`engine.recovery`
        does it at open; returns the ids)."""
        return await self.eng.recovery.orphaned_tasks()


def _statuses(status: str | None) -> builtins.list[TaskStatus] | None:
    """The statuses a list filter names (None or "all": every task); InputError otherwise."""
    if status in (None, "", "all"):
        return None
    try:
        return [TaskStatus(status)]
    except ValueError:
        raise InputError(
            f"status: {status!r} is not a task status "
            f"(one of: {', '.join(s.value for s in TaskStatus)})"
        ) from None
