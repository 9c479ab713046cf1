"""`filesystem_list`: a directory's entries, or a recursive listing, confined and capped.

The walk is `engine.safety.workspace_walk` (no link followed, `.git` never entered or
shown, the console's own files left out, `.gitignore` honoured by default). Links are
listed as `link` without their target: where a link points is not the agent's business
when it points outside, and following it is never needed to work inside.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pathspec
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import InputError
from engine.safety.protected import ProtectedPaths
from engine.safety.workspace_walk import Walk, WalkOptions
from engine.tools.spec import Risk, ToolContext, ToolSpec

MAX_ENTRIES = 20_000
MAX_DEPTH = 64
MAX_GLOB = 500


class ListArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(".", min_length=1, description="Directory, relative to the workspace")
    recursive: bool = Field(False, description="List subdirectories too (up to max_depth)")
    glob: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_GLOB,
        description="Only entries matching this gitignore-style pattern, e.g. '*.py' or 'src/**'",
    )
    max_depth: int = Field(8, ge=1, le=MAX_DEPTH, description="Deepest level of a recursive list")
    max_entries: int = Field(1000, ge=1, le=MAX_ENTRIES, description="Stop after this many")
    gitignore: bool = Field(True, description="Leave out what .gitignore files ignore")


def glob_spec(glob: str | None, field: str = "glob") -> pathspec.PathSpec[Any] | None:
    if glob is None:
        return None
    if "\x00" in glob or "\n" in glob or "\r" in glob:
        raise InputError(f"{field}: must be one pattern on one line, without NUL")
    try:
        return pathspec.PathSpec.from_lines("gitignore", [glob])
    except (ValueError, TypeError) as err:
        raise InputError(f"{field}: {glob!r} is not a valid pattern: {err}") from err


def list_directory(
    root: Path, args: ListArgs, protected: ProtectedPaths, field: str = "path"
) -> dict[str, Any]:
    """The listing as a JSON-able dict (shared with the node server)."""
    spec = glob_spec(args.glob)
    depth = args.max_depth if args.recursive else 1
    walk = Walk(
        root,
        args.path,
        WalkOptions(max_depth=depth, gitignore=args.gitignore),
        protected=protected,
        field=field,
    )
    entries: list[dict[str, Any]] = []
    truncated = False
    for entry, _ in walk.entries():
        if spec is not None and not spec.match_file(
            entry.path + "/" if entry.kind == "dir" else entry.path
        ):
            continue
        if len(entries) >= args.max_entries:
            truncated = True
            break
        entries.append({"path": entry.path, "kind": entry.kind, "size": entry.size})
    out: dict[str, Any] = {
        "path": walk.target.shown,
        "entries": entries,
        "count": len(entries),
        "truncated": truncated,
    }
    if truncated:
        out["note"] = f"stopped at max_entries={args.max_entries}; narrow path or glob"
    if walk.hidden:
        out["protected_left_out"] = walk.hidden
    return out


def _check(ctx: ToolContext, args: ListArgs) -> None:
    glob_spec(args.glob)
    Walk(ctx.workspace, args.path, WalkOptions(), protected=ctx.protected)


async def _list(ctx: ToolContext, args: ListArgs) -> dict[str, Any]:
    return await asyncio.to_thread(list_directory, ctx.workspace, args, ctx.protected)


FILESYSTEM_LIST = ToolSpec(
    name="filesystem_list",
    description=(
        "List a workspace directory (or recursively, with a glob): kinds and sizes, "
        ".gitignore-aware, capped; links are shown, never followed."
    ),
    risk=Risk.LOW,
    args_model=ListArgs,
    run=_list,
    check=_check,
    timeout_sec=60,
    output_cap=4_000_000,
)

TOOLS = [FILESYSTEM_LIST]
