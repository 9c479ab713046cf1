"""How a tool is declared (docs/architecture.md, "Where to make which change"): once, with
everything the front ends need.

The pydantic `args_model` is the single source of truth for arguments: its JSON schema
drives run forms, CLI parsing, the HTTP API and the planner.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from engine.safety.protected import ProtectedPaths, protected_for_settings

if TYPE_CHECKING:
    import httpx

    from engine.settings import Settings


@functools.cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return ("low", "medium", "high").index(self.value)


# One path in a list argument: the schema says what the run checks (a blank path is no path).
PathItem = Annotated[str, Field(min_length=1, max_length=4096)]


class NoArgs(BaseModel):
    """Arguments model for tools that take none."""

    model_config = ConfigDict(extra="forbid")


class NodeCaller(Protocol):
    """What node tools need from the engine: run a tool on a named node."""

    async def call_node_tool(
        self, node: str, tool_name: str, args: dict[str, Any]
    ) -> dict[str, Any]: ...


@dataclass
class ToolContext:
    """What a running tool may use. Built by the executor for each run."""

    settings: Settings
    workspace: Path
    # The HTTP client, or how to get it: the engine makes its client on first use, so a run
    # of a tool that never calls out does not pay for httpx and its trust store.
    http_source: httpx.AsyncClient | Callable[[], httpx.AsyncClient]
    nodes: NodeCaller | None = None
    trace_id: str = ""

    @property
    def http(self) -> httpx.AsyncClient:
        source = self.http_source
        return source() if callable(source) else source

    @property
    def shell_allowlist(self) -> list[str]:
        return self.settings.shell_allowlist

    @functools.cached_property
    def protected(self) -> ProtectedPaths:
        """The console's own files (settings, secrets, database): no tool may touch them."""
        return protected_for_settings(self.settings, workspace=self.workspace)


RunFn = Callable[[ToolContext, Any], Awaitable[dict[str, Any]]]
CheckFn = Callable[[ToolContext, Any], None]


@dataclass(frozen=True)
class ToolSpec:
    """A tool's declaration.

    `run` returns a JSON-able dict on success and raises `ToolFailure` (or another
    `EngineError`) on failure. `check` enforces allowlist-style rules before anything
    runs, including dry runs. `dry_run` reports what a dry run learns without executing
    (e.g. that a patch applies); without it a dry run just echoes the validated arguments.
    """

    name: str
    description: str
    risk: Risk
    args_model: type[BaseModel]
    run: RunFn
    default_enabled: bool = True
    timeout_sec: float = 30.0
    output_cap: int = 200_000
    check: CheckFn | None = None
    dry_run: RunFn | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def json_schema(self) -> dict[str, Any]:
        """The arguments' JSON schema (built once per model; treat it as read-only)."""
        return _schema(self.args_model)

    def timeout_for(self, args: BaseModel) -> float:
        """The executor's hard limit: the tool's own timeout argument plus a grace period."""
        requested = getattr(args, "timeout_sec", None)
        if isinstance(requested, int | float) and requested > 0:
            return float(requested) + 5.0
        return self.timeout_sec
