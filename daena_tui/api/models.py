"""Request bodies of `/api/v1/execution/*`: the original field names, validated strictly.

Unknown fields are refused (422) so a typo never silently does something else, and types
are strict (no `false` for a number, no `"5"` for an integer). Responses are
plain JSON built in the routes (see each route's docstring and `envelope`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from engine import RunResult, RunStatus
from engine.tasks.playbooks import NAME_RULE

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.@:+-]{0,63}$"
MAX_REASON_CHARS = 2000
SPACE = r"[\s\x1c-\x1f]"
"""White space as the server's `str.strip` sees it: ECMA and Rust `\\s` leave out the
information separators U+001C-U+001F, so `\\S` alone let a schema-valid "\\x1d" reach the
engine as an empty value (and a URL the schema refused be accepted once stripped)."""
NOT_BLANK = r"[^\s\x1c-\x1f]"
"""Some character that is not white space (a JSON Schema pattern matches anywhere)."""
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_HOST = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
URL_PATTERN = rf"^{SPACE}*https?://{_HOST}(:{_PORT})?(/[^\s?#]*)?{SPACE}*$"
"""A node's URL as the schema states it: http(s), a host name or IPv4 address, a port."""


TOKEN_PATTERN = r"^[!-~]*$"  # noqa: S105 (a pattern, not a secret)
"""A node token: printable ASCII without spaces ('' clears it)."""
PLAYBOOK_NAME = NAME_RULE


def json_int(value: Any) -> Any:
    """JSON Schema's integer: 5 and 5.0 are integers, `true` and "5" are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Steps = Annotated[int, Interval(ge=1, le=1000), BeforeValidator(json_int)]
Retries = Annotated[int, Interval(ge=0, le=20), BeforeValidator(json_int)]


def _drop_budget(schema: dict[str, Any]) -> None:
    # Accepted from earlier clients, not documented: a value given both nested and at the
    # top level is refused, which a schema cannot say simply.
    schema.get("properties", {}).pop("budget", None)


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
    max_steps_per_run: Steps | None = None
    max_retries_per_tool: Retries | None = None


class ConfigPatch(_Body):
    """`PATCH /config`: any subset of the execution config (nested `budget` accepted)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_drop_budget)

    tool_enabled: dict[str, bool] | None = None
    approval_mode: Literal["auto", "require_approval"] | None = None
    require_approval_for_risky: bool | None = None
    max_steps_per_run: Steps | None = None
    max_retries_per_tool: Retries | None = None
    dry_run_default: bool | None = None
    lockdown: bool | None = None
    budget: ConfigBudget | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ToolEnabledBody(_Body):
    enabled: bool


def _something_to_change(schema: dict[str, Any]) -> None:
    # the rule the route enforces: at least one of url, token, enabled; none of them null
    properties = schema.get("properties", {})
    for name in ("url", "token", "enabled"):
        variants = properties.get(name, {}).pop("anyOf", None)
        if variants:
            properties[name].update(next(v for v in variants if v.get("type") != "null"))
    schema["anyOf"] = [{"required": [name]} for name in ("url", "token", "enabled")]


def refuse_null(value: Any) -> Any:
    """A field left out is not changed; an explicit null is refused (as the schema says)."""
    if value is None:  # only an explicit null gets here (defaults are not validated)
        raise ValueError("leave it out rather than null")
    return value


class NodeConfigBody(_Body):
    """`POST /node/config`: change the default node (or `node`); the token is write-only."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_something_to_change)
    _no_null = field_validator("url", "token", "enabled", mode="before")(refuse_null)

    node: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    url: str | None = Field(None, min_length=1, max_length=2000, pattern=URL_PATTERN)
    token: str | None = Field(
        None, max_length=500, pattern=TOKEN_PATTERN, description="write-only; '' clears it"
    )
    enabled: bool | None = None


def _deny_says_why(schema: dict[str, Any]) -> None:
    # the rule the engine enforces, stated in the schema: a denial gives a reason
    schema["oneOf"] = [
        {"properties": {"decision": {"const": "approve"}}},
        {
            "properties": {"decision": {"const": "deny"}, "reason": {"pattern": NOT_BLANK}},
            "required": ["reason"],
        },
    ]


class DecisionBody(_Body):
    """`POST /approvals/{id}`: decide a pending request once (a denial says why)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_deny_says_why)

    decision: Literal["approve", "deny"]
    reason: str = Field("", max_length=MAX_REASON_CHARS)


class InboxRequestBody(_Body):
    """`POST /request`: an agent asks for a tool call; it waits in the inbox for an operator."""

    tool_name: str = Field(min_length=1, max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field("", max_length=MAX_REASON_CHARS)
    requester: str = Field("agent", pattern=NAME_PATTERN)


def _one_of_playbook_or_goal(schema: dict[str, Any]) -> None:
    # the rule the route enforces, stated in the schema: exactly one of playbook or goal,
    # variables only with a playbook; neither may be null
    properties = schema.get("properties", {})
    for name in ("playbook", "goal"):
        variants = properties.get(name, {}).pop("anyOf", None)
        if variants:
            properties[name].update(next(v for v in variants if v.get("type") != "null"))
    schema["oneOf"] = [
        {"required": ["playbook"], "not": {"required": ["goal"]}},
        {
            "required": ["goal"],
            "not": {"required": ["playbook"]},
            "properties": {"variables": {"maxProperties": 0}},
        },
    ]


class TaskCreateBody(_Body):
    """`POST /tasks`: a task from a playbook (with variables) or from a goal (the planner)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra=_one_of_playbook_or_goal
    )

    playbook: str | None = Field(None, pattern=PLAYBOOK_NAME)
    goal: str | None = Field(None, min_length=1, max_length=4000, pattern=NOT_BLANK)
    variables: dict[str, str] = Field(default_factory=dict)
    max_steps: Steps | None = None
    max_retries: Retries | None = None

    _no_null = field_validator("playbook", "goal", mode="before")(refuse_null)

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
