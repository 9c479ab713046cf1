"""A run request and its result, and the pure helpers the executor applies to them:
canonical arguments (what grants bind to), output caps and refusal codes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.audit import SUMMARY_CAP
from engine.errors import (
    ApprovalError,
    ConfinementError,
    EngineError,
    InputError,
    LockdownError,
    NotFoundError,
    ToolDisabledError,
)
from engine.statuses import RunStatus
from engine.storage.database import dumps
from engine.tools.spec import ToolSpec


class RunRequest(BaseModel):
    """One request to run a tool, from any front end or agent."""

    model_config = ConfigDict(extra="forbid")

    tool: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool | None = None
    approval_id: str | None = None
    requester: str = "operator"
    reason: str = ""
    task_id: str | None = None


class RunResult(BaseModel):
    status: RunStatus
    tool: str
    result: dict[str, Any] | None = None
    error: str | None = None
    audit_id: int | None = None
    trace_id: str
    approval_request_id: str | None = None
    dry_run: bool = False
    duration_ms: float = 0.0
    truncated: bool = False
    refused_by: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (RunStatus.OK, RunStatus.DRY_RUN)

    @property
    def exit_code(self) -> int:
        """CLI convention: 0 ok, 1 tool error, 3 refused or needs approval."""
        if self.ok:
            return 0
        if self.status in (RunStatus.REFUSED, RunStatus.PENDING_APPROVAL):
            return 3
        return 1


def canonical_args(spec: ToolSpec, args: dict[str, Any]) -> tuple[BaseModel, dict[str, Any]]:
    """Validate arguments; the canonical form (defaults filled) is what grants bind to."""
    try:
        model = spec.args_model.model_validate(args)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "args"
        raise InputError(f"args.{where}: {first['msg']}") from err
    return model, model.model_dump(mode="json")


def cap_result(result: dict[str, Any], cap: int) -> tuple[dict[str, Any], bool]:
    """Keep a result under `cap` characters of JSON by cutting its longest strings."""
    if len(dumps(result)) <= cap:
        return result, bool(result.get("truncated"))
    limit = max(cap // 4, 256)

    def cut(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            return value[:limit] + f"\n… [truncated {len(value) - limit} characters]"
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        if isinstance(value, list):
            return [cut(v) for v in value]
        return value

    smaller = cut(result)
    if len(dumps(smaller)) > cap:
        smaller = {"preview": dumps(result)[:cap]}
    smaller["truncated"] = True
    return smaller, True


def refusal_code(err: EngineError) -> str:
    """A stable name for why a run was refused (front ends map it to their own codes)."""
    for kind, code in (
        (LockdownError, "lockdown"),
        (ToolDisabledError, "disabled"),
        (NotFoundError, "unknown_tool"),
        (InputError, "invalid_args"),
        (ConfinementError, "outside_workspace"),
        (ApprovalError, "approval"),
    ):
        if isinstance(err, kind):
            return code
    return "policy"


def summarise(result: dict[str, Any] | None) -> str | None:
    return None if result is None else dumps(result)[:SUMMARY_CAP]
