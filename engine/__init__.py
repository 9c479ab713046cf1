"""Daena engine: the async core behind the console, the CLI and the HTTP API.

Importing this package has no side effects (no settings, directories or connections) and
never loads Textual. Public names are resolved on first use (PEP 562), so
`from engine import load_settings` does not load the tools, tasks or HTTP client: the console
can draw its first frame before the heavy parts are imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.agents import AgentSession
    from engine.approvals import ApprovalRequest, Grant
    from engine.audit import AuditEntry, AuditFilter, AuditRecord, VerifyReport
    from engine.brain import BrainStatus
    from engine.credentials import AgentCredential
    from engine.engine import Engine, ToolInfo
    from engine.errors import (
        ApprovalError,
        ConfigError,
        ConfinementError,
        CredentialError,
        EngineError,
        InputError,
        LockdownError,
        NodeError,
        NotFoundError,
        PolicyError,
        SelfDecisionError,
        StorageError,
        ToolDisabledError,
        ToolFailure,
    )
    from engine.events import (
        ApprovalDecided,
        ApprovalRequested,
        AuditAppended,
        ConfigChanged,
        Event,
        EventBus,
        GrantIssued,
        NodeChanged,
        NodeHealthChanged,
        RunFinished,
        TaskChanged,
    )
    from engine.nodes import Node, NodeHealthReport
    from engine.policy import ExecutionConfig, parse_value
    from engine.runs import RunRequest, RunResult
    from engine.settings import Settings, describe_settings, load_settings
    from engine.statuses import RunStatus
    from engine.tasks import (
        Playbook,
        StepStatus,
        Task,
        TaskService,
        TaskStatus,
        TaskStep,
        TaskStepChanged,
    )
    from engine.tools.builtin.web_guard import refuse_own_service
    from engine.tools.spec import Risk, ToolContext, ToolSpec
    from engine.voice import SpeechOutcome, VoiceStatus

_HOMES = {
    "AgentCredential": "engine.credentials",
    "AgentSession": "engine.agents",
    "ApprovalDecided": "engine.events",
    "ApprovalError": "engine.errors",
    "ApprovalRequest": "engine.approvals",
    "ApprovalRequested": "engine.events",
    "AuditAppended": "engine.events",
    "AuditEntry": "engine.audit",
    "AuditFilter": "engine.audit",
    "AuditRecord": "engine.audit",
    "BrainStatus": "engine.brain",
    "ConfigChanged": "engine.events",
    "ConfigError": "engine.errors",
    "ConfinementError": "engine.errors",
    "CredentialError": "engine.errors",
    "Engine": "engine.engine",
    "EngineError": "engine.errors",
    "Event": "engine.events",
    "EventBus": "engine.events",
    "ExecutionConfig": "engine.policy",
    "Grant": "engine.approvals",
    "GrantIssued": "engine.events",
    "InputError": "engine.errors",
    "LockdownError": "engine.errors",
    "Node": "engine.nodes",
    "NodeChanged": "engine.events",
    "NodeError": "engine.errors",
    "NodeHealthChanged": "engine.events",
    "NodeHealthReport": "engine.nodes",
    "NotFoundError": "engine.errors",
    "Playbook": "engine.tasks",
    "PolicyError": "engine.errors",
    "Risk": "engine.tools.spec",
    "RunFinished": "engine.events",
    "RunRequest": "engine.runs",
    "RunResult": "engine.runs",
    "RunStatus": "engine.statuses",
    "SelfDecisionError": "engine.errors",
    "Settings": "engine.settings",
    "SpeechOutcome": "engine.voice",
    "StepStatus": "engine.tasks",
    "StorageError": "engine.errors",
    "Task": "engine.tasks",
    "TaskChanged": "engine.events",
    "TaskService": "engine.tasks",
    "TaskStatus": "engine.tasks",
    "TaskStep": "engine.tasks",
    "TaskStepChanged": "engine.tasks",
    "ToolContext": "engine.tools.spec",
    "ToolDisabledError": "engine.errors",
    "ToolFailure": "engine.errors",
    "ToolInfo": "engine.engine",
    "ToolSpec": "engine.tools.spec",
    "VerifyReport": "engine.audit",
    "VoiceStatus": "engine.voice",
    "describe_settings": "engine.settings",
    "load_settings": "engine.settings",
    "parse_value": "engine.policy",
    "refuse_own_service": "engine.tools.builtin.web_guard",
}

__all__ = [
    "AgentCredential",
    "AgentSession",
    "ApprovalDecided",
    "ApprovalError",
    "ApprovalRequest",
    "ApprovalRequested",
    "AuditAppended",
    "AuditEntry",
    "AuditFilter",
    "AuditRecord",
    "BrainStatus",
    "ConfigChanged",
    "ConfigError",
    "ConfinementError",
    "CredentialError",
    "Engine",
    "EngineError",
    "Event",
    "EventBus",
    "ExecutionConfig",
    "Grant",
    "GrantIssued",
    "InputError",
    "LockdownError",
    "Node",
    "NodeChanged",
    "NodeError",
    "NodeHealthChanged",
    "NodeHealthReport",
    "NotFoundError",
    "Playbook",
    "PolicyError",
    "Risk",
    "RunFinished",
    "RunRequest",
    "RunResult",
    "RunStatus",
    "SelfDecisionError",
    "Settings",
    "SpeechOutcome",
    "StepStatus",
    "StorageError",
    "Task",
    "TaskChanged",
    "TaskService",
    "TaskStatus",
    "TaskStep",
    "TaskStepChanged",
    "ToolContext",
    "ToolDisabledError",
    "ToolFailure",
    "ToolInfo",
    "ToolSpec",
    "VerifyReport",
    "VoiceStatus",
    "describe_settings",
    "load_settings",
    "parse_value",
    "refuse_own_service",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
