"""`filesystem_list`: a directory's entries, or a recursive listing, confined and capped.

The walk is `engine.safety.workspace_walk` (no link followed, `.git` never entered or
shown, the console's own files left out, `.gitignore` honoured by default). Links are
listed as `link` without their target: where a link points is not the agent's business
when it points outside, and following it is never needed to work inside. The arguments
are the node protocol's `FileListArgs`, so a node's listing takes exactly the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine.protocol import FileListArgs
from engine.safety.workspace_query import glob_spec, list_directory
from engine.safety.workspace_walk import Walk, WalkOptions
from engine.tools.spec import Risk, ToolContext, ToolSpec

ListArgs = FileListArgs


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
