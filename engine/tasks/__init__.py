"""Tasks and autonomy (docs/architecture.md, "Flow (c)"): playbooks, the budget guard,
approval waits, restarts and the Ollama planner, behind one facade, `TaskService`."""

from __future__ import annotations

from engine.errors import TaskStateError
from engine.tasks.models import (
    Budget,
    StepStatus,
    Task,
    TaskArtifact,
    TaskStatus,
    TaskStep,
    TaskStepChanged,
)
from engine.tasks.playbooks import Playbook, PlaybookLibrary, PlaybookStep, PlaybookVariable
from engine.tasks.service import TaskService

__all__ = [
    "Budget",
    "Playbook",
    "PlaybookLibrary",
    "PlaybookStep",
    "PlaybookVariable",
    "StepStatus",
    "Task",
    "TaskArtifact",
    "TaskService",
    "TaskStateError",
    "TaskStatus",
    "TaskStep",
    "TaskStepChanged",
]
