"""`workspace_search`: find a literal text or an RE2 regular expression in the workspace's
text files (the work is `engine.safety.workspace_query.search`, shared with the node)."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.protocol import WorkspaceSearchArgs
from engine.safety.workspace_query import glob_spec, matcher, search
from engine.safety.workspace_walk import Walk, WalkOptions
from engine.tools.spec import Risk, ToolContext, ToolSpec

SearchArgs = WorkspaceSearchArgs


def _check(ctx: ToolContext, args: SearchArgs) -> None:
    matcher(args)
    glob_spec(args.glob)
    Walk(ctx.workspace, args.path, WalkOptions(), protected=ctx.protected)


async def _search(ctx: ToolContext, args: SearchArgs) -> dict[str, Any]:
    return await asyncio.to_thread(search, ctx.workspace, args, ctx.protected)


WORKSPACE_SEARCH = ToolSpec(
    name="workspace_search",
    description=(
        "Search the workspace's text files for a literal or an RE2 regular expression "
        "(.gitignore-aware, binary and oversize files skipped, capped with a 'more' count)."
    ),
    risk=Risk.LOW,
    args_model=SearchArgs,
    run=_search,
    check=_check,
    timeout_sec=120,
    output_cap=4_000_000,
)

TOOLS = [WORKSPACE_SEARCH]
