"""One exception tree for the whole engine.

Every error an operator can cause or meet is an `EngineError` with a short `title` and a
message that names the field and the rule. Front ends (console, CLI, HTTP API) catch
`EngineError` and show it; anything else is a bug.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    title: str = "Engine error"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ConfigError(EngineError):
    """Settings, `.env`, config files or execution config values are invalid."""

    title = "Configuration error"


class InputError(EngineError):
    """A request's arguments do not match their schema or rules."""

    title = "Invalid input"


class NotFoundError(EngineError):
    """A named thing (tool, request, grant, node, task) does not exist."""

    title = "Not found"


class PolicyError(EngineError):
    """The policy refused an action (lockdown, disabled tool, allowlist miss)."""

    title = "Refused by policy"


class LockdownError(PolicyError):
    """Lockdown is on: every execution is refused."""

    title = "Lockdown"


class ToolDisabledError(PolicyError):
    """The tool exists but is switched off in the execution policy."""

    title = "Tool disabled"


class ApprovalError(EngineError):
    """An approval or grant cannot be used or decided (expired, used, decided)."""

    title = "Approval error"


class SelfDecisionError(ApprovalError):
    """The requester of an approval request tried to decide it."""

    title = "Not allowed"


class ConfinementError(PolicyError):
    """A path or command tried to leave the workspace or the allowlist."""

    title = "Outside the workspace"


class ToolFailure(EngineError):
    """A tool ran and failed; its run is recorded with status `error`."""

    title = "Tool failed"


class StorageError(EngineError):
    """The database cannot be opened, migrated or written."""

    title = "Storage error"


class NodeError(EngineError):
    """A node could not be reached or answered with an error."""

    title = "Node error"
