"""`filesystem_read` and `filesystem_write`: confined, text only (SPEC §4.1, §4.2)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.safety.paths import relative_to_workspace, resolve_in_workspace
from engine.safety.textfiles import DEFAULT_READ_CAP, read_text, write_text_atomic
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
    resolve_in_workspace(ctx.workspace, args.path)


def _check_write(ctx: ToolContext, args: WriteArgs) -> None:
    resolve_in_workspace(ctx.workspace, args.path, allow_git_dir=False)


async def _read(ctx: ToolContext, args: ReadArgs) -> dict[str, Any]:
    path = resolve_in_workspace(ctx.workspace, args.path)
    shown = relative_to_workspace(ctx.workspace, path)
    text, size = await asyncio.to_thread(read_text, path, args.max_bytes, shown=shown)
    return {"path": shown, "content": text, "size": size}


async def _write(ctx: ToolContext, args: WriteArgs) -> dict[str, Any]:
    path = resolve_in_workspace(ctx.workspace, args.path, allow_git_dir=False)
    shown = relative_to_workspace(ctx.workspace, path)
    outcome = await asyncio.to_thread(
        write_text_atomic, path, args.content, create_dirs=args.create_dirs, shown=shown
    )
    return {
        "path": shown,
        "bytes_written": outcome.bytes_written,
        "action": "created" if outcome.created else "overwritten",
    }


async def _write_dry_run(ctx: ToolContext, args: WriteArgs) -> dict[str, Any]:
    path = resolve_in_workspace(ctx.workspace, args.path, allow_git_dir=False)
    return {
        "path": relative_to_workspace(ctx.workspace, path),
        "would": "overwrite" if path.exists() else "create",
        "bytes": len(args.content.encode("utf-8")),
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
