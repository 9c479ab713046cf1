"""A tool function that is imported on its first call.

The catalogue (every `ToolSpec`, its arguments' model and schema) is built at each engine
open, by the console's Tools list and by every CLI command; a tool's implementation and its
libraries (pygit2 for the git tools) are needed only when it runs. A spec declares
`run=deferred_run("engine.tools.builtin.git", "_status")` and the module loads then.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pydantic import BaseModel

from engine.tools.spec import CheckFn, RunFn, ToolContext


def _target(module: str, name: str) -> Any:
    return getattr(import_module(module), name)


def deferred_run(module: str, name: str) -> RunFn:
    """`module.name(ctx, args)`, an async tool function, imported when first called."""

    async def run(ctx: ToolContext, args: Any) -> dict[str, Any]:
        result: dict[str, Any] = await _target(module, name)(ctx, args)
        return result

    run.__qualname__ = run.__name__ = f"{module}.{name}"
    return run


def deferred_check(module: str, name: str) -> CheckFn:
    """`module.name(ctx, args)`, a tool's synchronous check, imported when first called."""

    def check(ctx: ToolContext, args: BaseModel) -> None:
        _target(module, name)(ctx, args)

    check.__qualname__ = check.__name__ = f"{module}.{name}"
    return check
