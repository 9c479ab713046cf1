"""Daena engine: the async core behind the console, the CLI and the HTTP API.

Importing this package has no side effects (no settings, directories or connections) and
never loads Textual.
"""

from __future__ import annotations

from engine.approvals import ApprovalRequest, Grant
from engine.audit import AuditEntry, AuditFilter, AuditRecord, VerifyReport
from engine.engine import Engine, ToolInfo
from engine.errors import (
    ApprovalError,
    ConfigError,
    ConfinementError,
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
from engine.policy import ExecutionConfig
from engine.runs import RunRequest, RunResult, RunStatus
from engine.settings import Settings, describe_settings, load_settings
from engine.tasks import Task, TaskService, TaskStatus, TaskStepChanged
from engine.tools.spec import Risk, ToolContext, ToolSpec

__all__ = [
    "ApprovalDecided",
    "ApprovalError",
    "ApprovalRequest",
    "ApprovalRequested",
    "AuditAppended",
    "AuditEntry",
    "AuditFilter",
    "AuditRecord",
    "ConfigChanged",
    "ConfigError",
    "ConfinementError",
    "Engine",
    "EngineError",
    "Event",
    "EventBus",
    "ExecutionConfig",
    "Grant",
    "GrantIssued",
    "InputError",
    "LockdownError",
    "NodeChanged",
    "NodeError",
    "NodeHealthChanged",
    "NotFoundError",
    "PolicyError",
    "Risk",
    "RunFinished",
    "RunRequest",
    "RunResult",
    "RunStatus",
    "SelfDecisionError",
    "Settings",
    "StorageError",
    "Task",
    "TaskChanged",
    "TaskService",
    "TaskStatus",
    "TaskStepChanged",
    "ToolContext",
    "ToolDisabledError",
    "ToolFailure",
    "ToolInfo",
    "ToolSpec",
    "VerifyReport",
    "describe_settings",
    "load_settings",
]
