"""The planner's side of a task (docs/architecture.md, "Flow (c)"): what to ask the model,
and what its reply means.

The conversation is rebuilt from the task's stored steps on every call (goal, then each
step as a tool call with its result), so a resumed task — even in another process — gives
the model the same history. A reply is checked before anything runs:
- a tool that is unknown or disabled, arguments that fail the tool's schema, or a reply that
  cannot be read (not JSON, broken JSON text, empty) is *rejected*: audited as
  `planner_proposal`/`rejected`, kept as a `planner_rejected` artifact, and explained to the
  model, which may try again; after `max_rejected_replies` in a row the task fails;
- a call identical to the previous step, or made twice before, is a *loop*: the task fails;
- a reply without a tool call is the model's final report: the task completes with it as the
  `final_message` artifact;
- valid calls become new steps, run like playbook steps (policy, approvals, audit); planner
  steps are not retried by the runner, the model sees the failure and decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.audit import AuditEntry
from engine.brain import (
    SYSTEM_PROMPT,
    Brain,
    ProposedCall,
    ollama_tool,
)
from engine.errors import BrainError, InputError, ModelCannotUseTools
from engine.runs import canonical_args
from engine.storage.database import dumps
from engine.tasks.budget import BudgetGuard
from engine.tasks.models import StepStatus, Task, TaskStatus, TaskStep
from engine.tasks.store import TaskStore

if TYPE_CHECKING:
    from engine.engine import Engine

MAX_REJECTED_REPLIES = 3
MODEL_RESULT_CAP = 3000


@dataclass
class PlannerSession:
    """What one run/resume of a planner task keeps between model calls."""

    model: str | None = None
    fallback: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_names: set[str] = field(default_factory=set)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    rejections: int = 0


@dataclass(frozen=True)
class PlanDecision:
    """Append `calls` as steps, ask `again`, or finish the task with `status`."""

    calls: tuple[ProposedCall, ...] = ()
    again: bool = False
    status: TaskStatus | None = None
    reason: str = ""
    artifact: tuple[str, str] | None = None


def call_key(tool: str, args: dict[str, Any]) -> str:
    return f"{tool} {dumps(args)}"


def loop_reason(task: Task, calls: tuple[ProposedCall, ...]) -> str | None:
    """A call identical to the previous step, or made twice before, is a loop."""
    history = [call_key(s.tool, s.args) for s in task.steps]
    for call in calls:
        key = call_key(call.tool, call.args)
        shown = f"{call.tool} {dumps(call.args)}"
        if history and history[-1] == key:
            return f"the model repeated its previous call ({shown}) instead of moving on"
        if history.count(key) >= 2:
            return f"the model asked for {shown} a third time"
        history.append(key)
    return None


def result_text(step: TaskStep) -> str:
    """A step's outcome as the model reads it."""
    if step.status == StepStatus.SKIPPED:
        lines = ["status: skipped (not run)"]
    else:
        lines = [f"status: {step.run_status or step.status}"]
    if step.error:
        lines.append(f"error: {step.error}")
    if step.result_summary:
        lines.append(step.result_summary)
    return "\n".join(lines)[:MODEL_RESULT_CAP]


def conversation(task: Task, guard: BudgetGuard, session: PlannerSession) -> list[dict[str, Any]]:
    left = max(0, guard.step_cap - task.steps_started)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": f"Goal: {task.goal}\n\nYou may make at most {left} more tool "
            "call(s) for this task.",
        },
    ]
    for step in task.steps:
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": step.tool, "arguments": step.args}}],
            }
        )
        messages.append({"role": "tool", "tool_name": step.tool, "content": result_text(step)})
    messages.extend(session.feedback)
    return messages


class TaskPlanner:
    def __init__(self, eng: Engine, store: TaskStore, brain: Brain) -> None:
        self.eng = eng
        self.store = store
        self.brain = brain
        self.max_rejected_replies = MAX_REJECTED_REPLIES

    async def decide(self, task: Task, guard: BudgetGuard, session: PlannerSession) -> PlanDecision:
        """Ask the model for the next call(s) and judge the reply."""
        if session.model is None:
            status = await self.brain.status()
            if status.problem is not None:
                return PlanDecision(status=TaskStatus.FAILED, reason=f"planner: {status.problem}")
            session.model = status.selected_model
            if status.fallback_installed and status.fallback_model != session.model:
                session.fallback = status.fallback_model
            infos = [t for t in await self.eng.list_tools() if t.enabled]
            session.tools = [ollama_tool(t.name, t.description, t.schema) for t in infos]
            session.tool_names = {t.name for t in infos}
        assert session.model is not None
        try:
            reply = await self.brain.propose(
                session.model, conversation(task, guard, session), session.tools
            )
        except ModelCannotUseTools as err:
            if session.fallback is not None:
                session.model, session.fallback = session.fallback, None
                return PlanDecision(again=True)
            return PlanDecision(status=TaskStatus.FAILED, reason=err.message)
        except BrainError as err:
            return PlanDecision(status=TaskStatus.FAILED, reason=err.message)
        problem = reply.problem
        calls: list[ProposedCall] = []
        for call in reply.calls if problem is None else ():
            if call.tool not in session.tool_names:
                problem = (
                    f"unknown tool {call.tool!r}; the enabled tools are: "
                    f"{', '.join(sorted(session.tool_names))}"
                )
                break
            try:
                _, canonical = canonical_args(self.eng.registry.get(call.tool), call.args)
            except InputError as err:
                problem = f"invalid arguments for {call.tool}: {err.message}"
                break
            calls.append(ProposedCall(call.tool, canonical))
        if problem is not None:
            return await self._reject(task, session, reply.raw, problem, reply.calls)
        if not calls:
            final = reply.content
            first = final.strip().splitlines()[0][:200] if final.strip() else ""
            return PlanDecision(
                status=TaskStatus.COMPLETED,
                reason=f"planner finished: {first}",
                artifact=("final_message", final),
            )
        loop = loop_reason(task, tuple(calls))
        if loop is not None:
            await self._audit_proposal(task, calls[0].tool, calls[0].args, "loop", loop)
            return PlanDecision(
                status=TaskStatus.FAILED, reason=f"planner: {loop}", artifact=("planner_loop", loop)
            )
        if not guard.may_start_step(task.steps_started):
            return PlanDecision(
                status=TaskStatus.BUDGET_EXHAUSTED,
                reason=f"{guard.steps_message()}; the planner wanted to run {calls[0].tool} next",
            )
        session.rejections = 0
        session.feedback.clear()
        return PlanDecision(calls=tuple(calls))

    async def _reject(
        self,
        task: Task,
        session: PlannerSession,
        raw: dict[str, Any],
        problem: str,
        calls: tuple[ProposedCall, ...],
    ) -> PlanDecision:
        session.rejections += 1
        first = calls[0] if calls else None
        await self._audit_proposal(
            task, first.tool if first else None, first.args if first else raw, "rejected", problem
        )
        async with self.eng.db.transaction() as tx:
            await self.store.add_artifact(tx, task.id, "planner_rejected", problem)
        if session.rejections >= self.max_rejected_replies:
            return PlanDecision(
                status=TaskStatus.FAILED,
                reason=f"planner: {session.rejections} unusable replies in a row from "
                f"{session.model}; last: {problem}",
            )
        shown = raw.get("content") or json.dumps(raw.get("tool_calls", []), ensure_ascii=False)
        session.feedback.append({"role": "assistant", "content": str(shown)[:MODEL_RESULT_CAP]})
        session.feedback.append(
            {
                "role": "user",
                "content": f"That reply was rejected: {problem}. Call one of the given tools "
                "with arguments matching its schema, or answer without a tool call when done.",
            }
        )
        return PlanDecision(again=True)

    async def _audit_proposal(
        self, task: Task, tool: str | None, args: Any, status: str, problem: str
    ) -> None:
        await self.eng.record(
            AuditEntry(
                actor=f"task:{task.id}",
                action="planner_proposal",
                status=status,
                tool=tool,
                args=args,
                error=problem,
                task_id=task.id,
            )
        )
