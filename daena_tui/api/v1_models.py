"""Request bodies of `/api/v1/execution/*`, with the original's field names and defaults
(compat/original_api.md §3). The original's informational fields (`department`,
`agent_id`, `risk_score_estimate`) are accepted; anything else is refused (422), and
values are validated where the original stored whatever it got (`PATCH /config`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from daena_tui.api.models import (
    MAX_REASON_CHARS,
    NAME_PATTERN,
    NOT_BLANK,
    SPACE,
    URL_PATTERN,
    Retries,
    Steps,
)

AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,63}$"


class _V1Body(BaseModel):
    # strict, as the schema says: `0` is not `false` and "5" is not 5 (a JSON client sends
    # the real type; the original's dashboard and scripts do)
    model_config = ConfigDict(extra="forbid", strict=True)


class V1TokenBody(_V1Body):
    token: str = Field(max_length=500)


class V1RunBody(_V1Body):
    tool_name: str = Field(min_length=1, max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False
    department: str | None = Field(None, max_length=100)
    agent_id: str | None = Field(None, pattern=AGENT_ID_PATTERN)
    reason: str | None = Field(None, max_length=MAX_REASON_CHARS)
    approval_id: str | None = Field(None, max_length=200)


class V1RequestBody(_V1Body):
    tool_name: str = Field(min_length=1, max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field("", max_length=MAX_REASON_CHARS)
    risk_score_estimate: float | None = Field(None, ge=0, le=1000)
    agent_id: str | None = Field(None, pattern=AGENT_ID_PATTERN)
    department: str | None = Field(None, max_length=100)
    dry_run: bool = Field(
        False,
        description="a request runs for real once approved; dry runs go to /run",
        json_schema_extra={"const": False},
    )

    @field_validator("dry_run")
    @classmethod
    def _runs_for_real(cls, value: bool) -> bool:
        if value:
            raise ValueError("a request runs for real once approved; use POST /run for a dry run")
        return value


class V1ConfigPatch(_V1Body):
    approval_mode: Literal["auto", "require_approval"] | None = None
    require_approval_for_risky: bool | None = None
    max_steps_per_run: Steps | None = None
    max_retries_per_tool: Retries | None = None
    dry_run_default: bool | None = None


class V1NodeConfigBody(_V1Body):
    url: str | None = Field(None, max_length=2000, pattern=URL_PATTERN)
    token: str | None = Field(None, max_length=500, pattern=rf"^{SPACE}*[!-~]*{SPACE}*$")


class V1TaskBody(_V1Body):
    goal: str = Field(min_length=1, max_length=4000, pattern=NOT_BLANK)
    max_steps: Steps = 50
    max_retries: Retries = 3


class V1DecisionBody(_V1Body):
    approved: bool = True
    reason: str = Field("", max_length=MAX_REASON_CHARS)


__all__ = [
    "NAME_PATTERN",
    "V1ConfigPatch",
    "V1DecisionBody",
    "V1NodeConfigBody",
    "V1RequestBody",
    "V1RunBody",
    "V1TaskBody",
    "V1TokenBody",
]
