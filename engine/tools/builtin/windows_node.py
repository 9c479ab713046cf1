"""`windows_node_*`: run the node server's tools on a paired machine (docs/windows_node.md).

The argument models are the wire models of `engine.protocol` plus `node` (the registry name
of the node, `windows` by default), so what the planner and forms see is exactly what the
node validates. The calls go through `ctx.nodes` (the engine's node registry), which knows
each node's URL and token. All are off by default.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from engine.errors import NodeError
from engine.protocol import (
    FILE_LIST_WORKSPACE,
    FILE_READ_WORKSPACE,
    FILE_WRITE_WORKSPACE,
    SAFE_SHELL_EXEC,
    WORKSPACE_SEARCH,
    FileListArgs,
    FileReadArgs,
    FileWriteArgs,
    SafeShellExecArgs,
    WorkspaceSearchArgs,
)
from engine.safety.commands import split_command
from engine.safety.workspace_query import glob_spec, matcher
from engine.tools.spec import Risk, ToolContext, ToolSpec

DEFAULT_NODE = "windows"


def _node_field() -> Any:
    return Field(
        DEFAULT_NODE,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Name of the node in the node registry",
    )


class NodeShellArgs(SafeShellExecArgs):
    node: str = _node_field()


class NodeReadArgs(FileReadArgs):
    node: str = _node_field()


class NodeWriteArgs(FileWriteArgs):
    node: str = _node_field()


class NodeListArgs(FileListArgs):
    node: str = _node_field()


class NodeSearchArgs(WorkspaceSearchArgs):
    node: str = _node_field()


async def _call(ctx: ToolContext, node_tool: str, args: BaseModel) -> dict[str, Any]:
    node = str(getattr(args, "node", DEFAULT_NODE))
    if ctx.nodes is None:
        raise NodeError(f"node: no node registry is available to reach node {node!r}")
    return await ctx.nodes.call_node_tool(node, node_tool, args.model_dump(exclude={"node"}))


async def _shell(ctx: ToolContext, args: NodeShellArgs) -> dict[str, Any]:
    return await _call(ctx, SAFE_SHELL_EXEC, args)


async def _read(ctx: ToolContext, args: NodeReadArgs) -> dict[str, Any]:
    return await _call(ctx, FILE_READ_WORKSPACE, args)


async def _write(ctx: ToolContext, args: NodeWriteArgs) -> dict[str, Any]:
    return await _call(ctx, FILE_WRITE_WORKSPACE, args)


async def _list(ctx: ToolContext, args: NodeListArgs) -> dict[str, Any]:
    return await _call(ctx, FILE_LIST_WORKSPACE, args)


async def _search(ctx: ToolContext, args: NodeSearchArgs) -> dict[str, Any]:
    return await _call(ctx, WORKSPACE_SEARCH, args)


def _check_list(ctx: ToolContext, args: NodeListArgs) -> None:
    glob_spec(args.glob)  # the node checks paths against its own workspace


def _check_search(ctx: ToolContext, args: NodeSearchArgs) -> None:
    # A pattern the node would refuse is refused (and audited) before it leaves this machine.
    matcher(args)
    glob_spec(args.glob)


def _check_shell(ctx: ToolContext, args: NodeShellArgs) -> None:
    # The node enforces its own allowlist; refusing shell syntax here too means an
    # injection attempt is refused (and audited) before anything leaves this machine.
    split_command(args.command, field="command")


WINDOWS_NODE_SAFE_SHELL_EXEC = ToolSpec(
    name="windows_node_safe_shell_exec",
    description="Run an allowlisted command (no shell) in a node's workspace.",
    risk=Risk.MEDIUM,
    args_model=NodeShellArgs,
    run=_shell,
    check=_check_shell,
    default_enabled=False,
    timeout_sec=45.0,
    tags=("node", "shell"),
)

WINDOWS_NODE_FILE_READ_WORKSPACE = ToolSpec(
    name="windows_node_file_read_workspace",
    description="Read a text file inside a node's workspace.",
    risk=Risk.MEDIUM,
    args_model=NodeReadArgs,
    run=_read,
    default_enabled=False,
    timeout_sec=30.0,
    output_cap=10_010_000,
    tags=("node", "filesystem"),
)

WINDOWS_NODE_FILE_WRITE_WORKSPACE = ToolSpec(
    name="windows_node_file_write_workspace",
    description="Write a text file inside a node's workspace (atomic).",
    risk=Risk.HIGH,
    args_model=NodeWriteArgs,
    run=_write,
    default_enabled=False,
    timeout_sec=30.0,
    tags=("node", "filesystem"),
)

WINDOWS_NODE_FILE_LIST_WORKSPACE = ToolSpec(
    name="windows_node_file_list_workspace",
    description="List a directory of a node's workspace (links shown, never followed).",
    risk=Risk.MEDIUM,
    args_model=NodeListArgs,
    run=_list,
    check=_check_list,
    default_enabled=False,
    timeout_sec=60.0,
    output_cap=4_000_000,
    tags=("node", "filesystem"),
)

WINDOWS_NODE_WORKSPACE_SEARCH = ToolSpec(
    name="windows_node_workspace_search",
    description="Search the text files of a node's workspace (literal or RE2, capped).",
    risk=Risk.MEDIUM,
    args_model=NodeSearchArgs,
    run=_search,
    check=_check_search,
    default_enabled=False,
    timeout_sec=120.0,
    output_cap=4_000_000,
    tags=("node", "filesystem"),
)

TOOLS = [
    WINDOWS_NODE_SAFE_SHELL_EXEC,
    WINDOWS_NODE_FILE_READ_WORKSPACE,
    WINDOWS_NODE_FILE_WRITE_WORKSPACE,
    WINDOWS_NODE_FILE_LIST_WORKSPACE,
    WINDOWS_NODE_WORKSPACE_SEARCH,
]
