"""`filesystem_read` and `filesystem_write`: confined, text only (docs/security.md, promises
2 and 3)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.safety.paths import confine
from engine.safety.textfiles import (
    DEFAULT_READ_CAP,
    WriteOutcome,
    confined_read,
    confined_write,
    precheck_write,
)
from engine.tools.spec import Risk, ToolContext, ToolSpec

MAX_READ_CAP = 10_000_000


class ReadArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="File path, relative to the workspace")
    max_bytes: int = Field(
        DEFAULT_READ_CAP, gt=0, le=MAX_READ_CAP, description="Refuse files larger than this"
    )


class WriteArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="File path, relative to the workspace")
    content: str = Field(description="Full new text content of the file")
    create_dirs: bool = Field(False, description="Create missing parent directories")


def _check_read(ctx: ToolContext, args: ReadArgs) -> None:
    confine(ctx.workspace, args.path, protected=ctx.protected)


def _check_write(ctx: ToolContext, args: WriteArgs) -> None:
    precheck_write(ctx.workspace, args.path, protected=ctx.protected)


async def _read(ctx: ToolContext, args: ReadArgs) -> dict[str, Any]:
    outcome = await asyncio.to_thread(
        confined_read, ctx.workspace, args.path, args.max_bytes, protected=ctx.protected
    )
    return {"path": outcome.path, "content": outcome.content, "size": outcome.size}


def _write_now(ctx: ToolContext, args: WriteArgs, *, dry_run: bool) -> WriteOutcome:
    return confined_write(
        ctx.workspace,
        args.path,
        args.content,
        create_dirs=args.create_dirs,
        protected=ctx.protected,
        dry_run=dry_run,
    )


async def _write(ctx: ToolContext, args: WriteArgs) -> dict[str, Any]:
    outcome = await asyncio.to_thread(_write_now, ctx, args, dry_run=False)
    return {
        "path": outcome.path,
        "bytes_written": outcome.bytes_written,
        "action": "created" if outcome.created else "overwritten",
    }


async def _write_dry_run(ctx: ToolContext, args: WriteArgs) -> dict[str, Any]:
    """Every check of a real write (links, .git, protected, executable, binary), no change."""
    outcome = await asyncio.to_thread(_write_now, ctx, args, dry_run=True)
    return {
        "path": outcome.path,
        "would": "create" if outcome.created else "overwrite",
        "bytes": outcome.bytes_written,
    }


FILESYSTEM_READ = ToolSpec(
    name="filesystem_read",
    description="Read a text file inside the workspace.",
    risk=Risk.LOW,
    args_model=ReadArgs,
    run=_read,
    check=_check_read,
    timeout_sec=30,
    output_cap=MAX_READ_CAP + 10_000,
)

FILESYSTEM_WRITE = ToolSpec(
    name="filesystem_write",
    description="Write a text file inside the workspace (atomic; never overwrites binaries).",
    risk=Risk.HIGH,
    default_enabled=False,
    args_model=WriteArgs,
    run=_write,
    check=_check_write,
    dry_run=_write_dry_run,
    timeout_sec=30,
)

TOOLS = [FILESYSTEM_READ, FILESYSTEM_WRITE]
