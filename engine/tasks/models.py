"""Task domain models (docs/architecture.md, "Flow (c)"): a task, its budget, its steps and
its artifacts.

Storage returns these, never rows. They are pydantic models so every front end (console,
CLI `--json`, HTTP API) can dump them the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.events import Event


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    BUDGET_EXHAUSTED = "budget_exhausted"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.BUDGET_EXHAUSTED,
        TaskStatus.CANCELLED,
    }
)
# Statuses from which `resume` may continue a task.
RESUMABLE = frozenset({TaskStatus.PENDING, TaskStatus.WAITING_APPROVAL, TaskStatus.INTERRUPTED})


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED)


class Budget(BaseModel):
    """A task's own limits; the execution config's limits apply on top (the lower wins)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_steps: int = Field(20, ge=1, le=1000, description="Most steps the task may start")
    max_retries: int = Field(2, ge=0, le=20, description="Most retries of one failing step")
    max_seconds: float | None = Field(
        None, gt=0, le=7 * 24 * 3600, description="Most seconds of running time (wall clock)"
    )


class TaskStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    task_id: str
    index: int
    tool: str
    args: dict[str, Any]
    title: str = ""
    dry_run: bool = False
    retry_on_failure: bool = False
    max_retries: int = 0
    continue_on_failure: bool = False
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    run_status: str | None = None
    result_summary: str | None = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    approval_request_id: str | None = None
    audit_id: int | None = None
    audit_mark: int | None = None

    @property
    def duration_sec(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at


class TaskArtifact(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    task_id: str
    step_index: int | None
    kind: str
    content: str
    created_at: float


class Task(BaseModel):
    """A task as every front end shows it; `steps`/`artifacts` are filled by `get`."""

    model_config = ConfigDict(frozen=True)

    id: str
    goal: str
    source: str
    variables: dict[str, Any] = Field(default_factory=dict)
    status: TaskStatus
    reason: str | None = None
    budget: Budget
    elapsed_sec: float = 0.0
    created_by: str
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    run_started_at: float | None = None
    owner: str | None = None
    owner_pid: int | None = None
    owner_host: str | None = None
    owner_started: str | None = None
    heartbeat_at: float | None = None
    steps: list[TaskStep] = Field(default_factory=list)
    artifacts: list[TaskArtifact] = Field(default_factory=list)

    @property
    def planner(self) -> bool:
        return self.source == "planner"

    @property
    def playbook(self) -> str | None:
        return (
            self.source.removeprefix("playbook:") if self.source.startswith("playbook:") else None
        )

    @property
    def steps_started(self) -> int:
        return sum(1 for s in self.steps if s.attempts > 0)

    def running_seconds(self, now: float | None = None) -> float:
        """Wall-clock seconds spent running, over every run and resume so far."""
        live = 0.0
        if self.status == TaskStatus.RUNNING and self.run_started_at is not None:
            live = max(0.0, (now or time.time()) - self.run_started_at)
        return self.elapsed_sec + live

    def waiting_step(self) -> TaskStep | None:
        return next((s for s in self.steps if s.status == StepStatus.WAITING_APPROVAL), None)

    def to_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["steps_started"] = self.steps_started
        data["running_seconds"] = round(self.running_seconds(), 3)
        return data


@dataclass(frozen=True)
class TaskStepChanged(Event):
    """A step of a task changed status (started, waiting, finished, interrupted)."""

    task_id: str
    index: int
    status: str
    tool: str
