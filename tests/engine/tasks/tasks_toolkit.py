"""Small tools for the task tests, registered beside the built-in ones.

Used by the test process and by the crash script (a separate process), so both see the same
registry. Every tool leaves a trace in the workspace, so a test can prove how often it ran.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import ToolFailure
from engine.tools.registry import ToolRegistry
from engine.tools.spec import Risk, ToolContext, ToolSpec


class AppendArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = "trace.txt"
    line: str


async def _append(ctx: ToolContext, args: AppendArgs) -> dict[str, Any]:
    target = ctx.workspace / args.path
    with target.open("a", encoding="utf-8") as fh:
        fh.write(args.line + "\n")
    return {"appended": args.line, "path": args.path}


class FlakyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    counter: str = "flaky.count"
    fail_times: int = 1


async def _flaky(ctx: ToolContext, args: FlakyArgs) -> dict[str, Any]:
    counter = ctx.workspace / args.counter
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    if calls <= args.fail_times:
        raise ToolFailure(f"flaky: failing on call {calls}")
    return {"calls": calls}


class SleepArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = 0.2


async def _sleep(ctx: ToolContext, args: SleepArgs) -> dict[str, Any]:
    await asyncio.sleep(args.seconds)
    return {"slept": args.seconds}


class WaitArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    started: str = "started.marker"
    release: str = "release.marker"
    path: str = "trace.txt"
    line: str = "waited"
    timeout_sec: float = Field(60.0, gt=0)


async def _wait_for_release(ctx: ToolContext, args: WaitArgs) -> dict[str, Any]:
    """Writes a marker, blocks until the release file exists, then appends its line."""
    (ctx.workspace / args.started).write_text("started\n")
    release: Path = ctx.workspace / args.release
    while not release.exists():
        await asyncio.sleep(0.05)
    with (ctx.workspace / args.path).open("a", encoding="utf-8") as fh:
        fh.write(args.line + "\n")
    return {"released": True, "line": args.line}


def _spec(name: str, risk: Risk, model: type[BaseModel], fn: Any, doc: str) -> ToolSpec:
    return ToolSpec(name=name, description=doc, risk=risk, args_model=model, run=fn)


TEST_TOOLS = [
    _spec("append_line", Risk.LOW, AppendArgs, _append, "Append a line to a workspace file."),
    _spec("risky_append", Risk.MEDIUM, AppendArgs, _append, "Append a line (needs approval)."),
    _spec("flaky", Risk.LOW, FlakyArgs, _flaky, "Fail the first fail_times calls."),
    _spec("nap", Risk.LOW, SleepArgs, _sleep, "Sleep a little."),
    _spec("wait_low", Risk.LOW, WaitArgs, _wait_for_release, "Block until released (low)."),
    _spec("wait_medium", Risk.MEDIUM, WaitArgs, _wait_for_release, "Block until released."),
]


def make_registry() -> ToolRegistry:
    registry = ToolRegistry.default(plugins=False)
    for spec in TEST_TOOLS:
        registry.register(spec)
    return registry
