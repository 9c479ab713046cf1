"""One exception tree for the whole engine.

Every error an operator can cause or meet is an `EngineError` with a short `title` and a
message that names the field and the rule. Front ends (console, CLI, HTTP API) catch
`EngineError` and show it; anything else is a bug. Every subclass lives in this module, so
this tree is the whole list (tests/engine/test_error_tree.py keeps it honest):

* EngineError
  + ConfigError
  + InputError
    - TaskStateError
  + NotFoundError
    - MissingDirectory
  + PolicyError
    - LockdownError
    - ToolDisabledError
    - ConfinementError
    - ChangedFile
  + ApprovalError
    - SelfDecisionError
  + CredentialError
  + ToolFailure
    - CommandFailed
    - NodeToolTimeout
  + StorageError
  + NodeError
  + BrainError
    - BrainUnavailable
    - ModelCannotUseTools
  + VoiceError
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.credentials import AgentCredential


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


class TaskStateError(InputError):
    """A task cannot continue without an operator's explicit choice (rerun, skip, cancel)."""

    title = "Task needs a decision"


class NotFoundError(EngineError):
    """A named thing (tool, request, grant, node, task) does not exist."""

    title = "Not found"


class MissingDirectory(NotFoundError):
    """A directory on the way to a path does not exist (so `create_dirs` would make it)."""


class PolicyError(EngineError):
    """The policy refused an action (lockdown, disabled tool, allowlist miss)."""

    title = "Refused by policy"


class LockdownError(PolicyError):
    """Lockdown is on: every execution is refused."""

    title = "Lockdown"


class ToolDisabledError(PolicyError):
    """The tool exists but is switched off in the execution policy."""

    title = "Tool disabled"


class ConfinementError(PolicyError):
    """A path or command tried to leave the workspace or the allowlist."""

    title = "Outside the workspace"


class ChangedFile(PolicyError):
    """An approved edit's file is no longer what its diff was computed from."""


class ApprovalError(EngineError):
    """An approval or grant cannot be used or decided (expired, used, decided)."""

    title = "Approval error"


class SelfDecisionError(ApprovalError):
    """The requester of an approval request (or an agent) tried to decide it."""

    title = "Not allowed"


class CredentialError(EngineError):
    """A token that is not (or no longer) a valid agent credential."""

    title = "Not authorised"

    def __init__(self, message: str, credential: AgentCredential | None = None) -> None:
        super().__init__(message)
        self.credential = credential


class ToolFailure(EngineError):
    """A tool ran and failed; its run is recorded with status `error`."""

    title = "Tool failed"


class CommandFailed(ToolFailure):
    """A command ran but failed (non-zero exit or timeout); `result` is its CommandResult dict.

    The executor records status `error` (or `timeout` when `result["timed_out"]`) together
    with the result, so the operator still sees stdout/stderr of a failed run.
    """

    def __init__(self, message: str, result: dict[str, Any], *, title: str | None = None) -> None:
        super().__init__(message, title=title)
        self.result = result

    @property
    def timed_out(self) -> bool:
        return bool(self.result.get("timed_out"))


class NodeToolTimeout(ToolFailure):
    """A node killed a command at its timeout; `result` holds the partial output."""

    def __init__(self, message: str, result: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.result = result or {}


class StorageError(EngineError):
    """The database cannot be opened, migrated or written."""

    title = "Storage error"


class NodeError(EngineError):
    """A node could not be reached or answered with an error."""

    title = "Node error"


class BrainError(EngineError):
    """Ollama could not be used for planning (an HTTP error, a model that cannot use tools)."""

    title = "Planner error"


class BrainUnavailable(BrainError):
    """Ollama is not reachable at OLLAMA_BASE_URL."""

    title = "Ollama unreachable"


class ModelCannotUseTools(BrainError):
    """The chosen model does not support tool calling."""

    title = "Model cannot call tools"


class VoiceError(EngineError):
    """A speech backend could not produce audio."""

    title = "Voice error"
