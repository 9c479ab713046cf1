"""A run's or a task's story in one list: request → decision (who, why) → start → outcome.

Built only from the audit log, so what it shows is what the hash chain holds: each step
names the audit record it comes from (its id), and nothing is inferred that no record says.
Where a stage that should follow is missing (a start with no outcome yet, a request nobody
decided), the timeline says what the run is waiting for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.audit import AuditLog, AuditRecord
from engine.statuses import RunStatus

STAGE_OF = {
    "request": "request",
    "grant": "grant",
    "approval_extended": "extension",
    "approval_approved": "decision",
    "approval_denied": "decision",
    "approval_expired": "decision",
    "approval_withdrawn": "decision",
    "run_start": "start",
    "run": "outcome",
    "dry_run": "outcome",
    "run_interrupted": "outcome",
    "approval_run_interrupted": "outcome",
}
"""Audit actions and the stage of a run each one records (task_* records are task stages)."""


@dataclass(frozen=True)
class Step:
    stage: str
    audit_id: int
    ts: float
    actor: str
    action: str
    status: str
    tool: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Timeline:
    steps: list[Step]
    waiting_for: str | None
    """What the run still waits for (a decision, an outcome), or None when it ended."""

    def as_dict(self) -> dict[str, Any]:
        return {"steps": [s.as_dict() for s in self.steps], "waiting_for": self.waiting_for}


def stage_of(record: AuditRecord) -> str:
    if record.action.startswith("task_"):
        return "task"
    if record.action == "run" and record.status == RunStatus.PENDING_APPROVAL:
        return "request"  # the call that went to the inbox
    return STAGE_OF.get(record.action, "other")


def detail_of(record: AuditRecord) -> str:
    """The record's own words: its error, its decision reason or result summary."""
    return record.error or record.result_summary or ""


def build(records: list[AuditRecord]) -> Timeline:
    steps = [
        Step(stage_of(r), r.id, r.ts, r.actor, r.action, r.status, r.tool, detail_of(r))
        for r in records
    ]
    stages = [s.stage for s in steps]
    waiting_for = None
    if "request" in stages and "decision" not in stages and "outcome" not in stages:
        waiting_for = "a decision"
    elif "start" in stages and stages[-1] != "outcome" and "outcome" not in stages:
        waiting_for = "the outcome (the run has started)"
    elif stages and stages[-1] == "decision" and steps[-1].action == "approval_approved":
        waiting_for = "the run (approved)"
    return Timeline(steps, waiting_for)


async def timeline(
    audit: AuditLog, *, trace_id: str | None = None, task_id: str | None = None
) -> Timeline:
    return build(await audit.of_run(trace_id=trace_id, task_id=task_id))
