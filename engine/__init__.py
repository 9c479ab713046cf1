"""Daena engine: the async core behind the console, the CLI and the HTTP API.

Importing this package has no side effects (no settings, directories or connections) and
never loads Textual.
"""

from __future__ import annotations

from engine.approvals import ApprovalRequest, Grant
from engine.audit import AuditEntry, AuditFilter, AuditRecord, VerifyReport
from engine.brain import BrainStatus
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
from engine.nodes import Node, NodeHealthReport
from engine.policy import ExecutionConfig, parse_value
from engine.runs import RunRequest, RunResult, RunStatus
from engine.settings import Settings, describe_settings, load_settings
from engine.tasks import (
    Playbook,
    StepStatus,
    Task,
    TaskService,
    TaskStatus,
    TaskStep,
    TaskStepChanged,
)
from engine.tools.spec import Risk, ToolContext, ToolSpec
from engine.voice import SpeechOutcome, VoiceStatus

__all__ = [
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
]
