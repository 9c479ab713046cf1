"""Request bodies of `/api/v1/execution/*`: the original field names, validated strictly.

Unknown fields are refused (422) so a typo never silently does something else, and types
are strict (no `false` for a number, no `"5"` for an integer). Responses are
plain JSON built in the routes (see each route's docstring and `envelope`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine import RunResult, RunStatus

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.@:+-]{0,63}$"
MAX_REASON_CHARS = 2000


class _Body(BaseModel):
    # strict: `false` is not 0 and "5" is not 5 — a JSON client sends the real type
    model_config = ConfigDict(extra="forbid", strict=True)


class RunBody(_Body):
    """`POST /run`: run a tool through policy, approvals and audit."""

    tool_name: str = Field(min_length=1, max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool | None = Field(None, description="None: the configured dry_run_default")
    approval_id: str | None = Field(None, max_length=200, description="a grant from /approve")
    reason: str = Field("", max_length=MAX_REASON_CHARS, description="shown in the inbox")
    requester: str | None = Field(
        None, pattern=NAME_PATTERN, description="who asks (default: api:<operator>)"
    )


class GrantBody(_Body):
    """Optional body of `POST /approve`: the exact arguments the grant allows."""

    args: dict[str, Any] | None = None


class ConfigBudget(_Body):
    max_steps_per_run: int | None = Field(None, ge=1, le=1000)
    max_retries_per_tool: int | None = Field(None, ge=0, le=20)


class ConfigPatch(_Body):
    """`PATCH /config`: any subset of the execution config (nested `budget` accepted)."""

    tool_enabled: dict[str, bool] | None = None
    approval_mode: Literal["auto", "require_approval"] | None = None
    require_approval_for_risky: bool | None = None
    max_steps_per_run: int | None = Field(None, ge=1, le=1000)
    max_retries_per_tool: int | None = Field(None, ge=0, le=20)
    dry_run_default: bool | None = None
    lockdown: bool | None = None
    budget: ConfigBudget | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ToolEnabledBody(_Body):
    enabled: bool


class NodeConfigBody(_Body):
    """`POST /node/config`: change the default node (or `node`); the token is write-only."""

    node: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    url: str | None = Field(None, min_length=1, max_length=2000)
    token: str | None = Field(None, max_length=500, description="write-only; '' clears it")
    enabled: bool | None = None


class DecisionBody(_Body):
    """`POST /approvals/{id}`: decide a pending request once."""

    decision: Literal["approve", "deny"]
    reason: str = Field("", max_length=MAX_REASON_CHARS)


class InboxRequestBody(_Body):
    """`POST /request`: an agent asks for a tool call; it waits in the inbox for an operator."""

    tool_name: str = Field(min_length=1, max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field("", max_length=MAX_REASON_CHARS)
    requester: str = Field("agent", pattern=NAME_PATTERN)


class TaskCreateBody(_Body):
    """`POST /tasks`: a task from a playbook (with variables) or from a goal (the planner)."""

    playbook: str | None = Field(None, min_length=1, max_length=64)
    goal: str | None = Field(None, min_length=1, max_length=4000)
    variables: dict[str, str] = Field(default_factory=dict)
    max_steps: int | None = Field(None, ge=1, le=1000)
    max_retries: int | None = Field(None, ge=0, le=20)
    max_seconds: float | None = Field(None, gt=0, le=7 * 24 * 3600)
    run: bool = Field(False, description="start it at once (in the background)")


class TaskActionBody(_Body):
    reason: str = Field("", max_length=MAX_REASON_CHARS)


def envelope(result: RunResult) -> dict[str, Any]:
    """The original response envelope of `/run`, plus a few fields of ours."""
    data: dict[str, Any] = {
        "success": result.ok,
        "status": str(result.status),
        "tool_name": result.tool,
        "result": result.result,
        "error": result.error,
        "audit_id": result.audit_id,
        "trace_id": result.trace_id,
        "dry_run": result.dry_run,
        "duration_ms": result.duration_ms,
        "truncated": result.truncated,
    }
    if result.status == RunStatus.PENDING_APPROVAL or result.approval_request_id:
        data["approval_request_id"] = result.approval_request_id
    return data
