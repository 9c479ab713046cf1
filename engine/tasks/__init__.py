"""Tasks and autonomy (docs/architecture.md, "Flow (c)"): playbooks, the budget guard,
approval waits, restarts and the Ollama planner, behind one facade, `TaskService`.

Public names load on first use (PEP 562): every engine open runs recovery, which needs the
task store and models, not the runner, the planner or the playbook library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "Budget": "engine.tasks.models",
    "Playbook": "engine.tasks.playbooks",
    "PlaybookLibrary": "engine.tasks.playbooks",
    "PlaybookStep": "engine.tasks.playbooks",
    "PlaybookVariable": "engine.tasks.playbooks",
    "StepStatus": "engine.tasks.models",
    "Task": "engine.tasks.models",
    "TaskArtifact": "engine.tasks.models",
    "TaskService": "engine.tasks.service",
    "TaskStateError": "engine.errors",
    "TaskStatus": "engine.tasks.models",
    "TaskStep": "engine.tasks.models",
    "TaskStepChanged": "engine.tasks.models",
}

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


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` the first time it is asked for (a submodule's
    name raises AttributeError, so `from engine.tasks import claims` imports it)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'engine.tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
