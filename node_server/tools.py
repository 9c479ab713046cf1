"""The node's tools, built on the engine's safety rules (one implementation, §4.1-§4.3).

Each tool takes the validated protocol args model and returns a JSON-able dict, or raises an
`EngineError` that the app turns into an `ErrorBody` with the right status. Blocking file
work runs in a thread; commands run as async subprocesses, so the server keeps answering
health checks while a command runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from engine.errors import CommandFailed
from engine.protocol import (
    FILE_LIST_WORKSPACE,
    FILE_READ_WORKSPACE,
    FILE_WRITE_WORKSPACE,
    SAFE_SHELL_EXEC,
    WORKSPACE_SEARCH,
    FileListArgs,
    FileReadArgs,
    FileReadResult,
    FileWriteArgs,
    FileWriteResult,
    SafeShellExecArgs,
    WorkspaceSearchArgs,
)
from engine.safety.commands import (
    allow_command,
    command_to_run,
    run_argv,
    split_command,
)
from engine.safety.protected import ProtectedPaths
from engine.safety.textfiles import confined_read, confined_write
from engine.safety.workspace_query import list_directory, search


@dataclass(frozen=True)
class ToolEnv:
    """What the node's tools may use: the workspace, the allowlist, the output cap, and the
    node's own files (its `.env`) that no tool may read or write."""

    workspace: Path
    shell_allowlist: tuple[str, ...]
    output_cap: int
    protected: ProtectedPaths


async def safe_shell_exec(env: ToolEnv, args: SafeShellExecArgs) -> dict[str, Any]:
    """Run an allowlisted command in the workspace: no shell, scrubbed env, killed on timeout.

    The same allow model as the engine's `shell_exec` (options and operands per command
    spec, paths confined and off the node's own files, git hardened). A command that exits
    non-zero still answers 200 (its returncode is the result); a timeout raises
    `CommandFailed` carrying the partial output (the app answers 504).
    """
    argv = split_command(args.command, field="command")
    allowed = allow_command(
        argv, env.shell_allowlist, workspace=env.workspace, protected=env.protected
    )
    run, child_env = await asyncio.to_thread(command_to_run, allowed.argv, env.workspace)
    result = await run_argv(
        run,
        cwd=env.workspace,
        timeout_sec=args.timeout_sec,
        output_cap=env.output_cap,
        env=child_env,
    )
    data = result.to_dict()
    if result.timed_out:
        raise CommandFailed(
            f"command: {argv[0]!r} did not finish within timeout_sec={args.timeout_sec:g} "
            "and was killed",
            data,
        )
    return data


def _read(env: ToolEnv, args: FileReadArgs) -> dict[str, Any]:
    got = confined_read(env.workspace, args.path, args.max_bytes, protected=env.protected)
    return FileReadResult(path=got.path, content=got.content, size=got.size).model_dump()


def _write(env: ToolEnv, args: FileWriteArgs) -> dict[str, Any]:
    # The engine's writer rules: no `.git` anywhere, no executable, no protected file.
    outcome = confined_write(
        env.workspace,
        args.path,
        args.content,
        create_dirs=args.create_dirs,
        protected=env.protected,
    )
    return FileWriteResult(
        path=outcome.path, bytes_written=outcome.bytes_written, created=outcome.created
    ).model_dump()


async def file_read_workspace(env: ToolEnv, args: FileReadArgs) -> dict[str, Any]:
    """Read a text file inside the workspace (text only, capped)."""
    return await asyncio.to_thread(_read, env, args)


async def file_write_workspace(env: ToolEnv, args: FileWriteArgs) -> dict[str, Any]:
    """Write a text file inside the workspace atomically."""
    return await asyncio.to_thread(_write, env, args)


async def file_list_workspace(env: ToolEnv, args: FileListArgs) -> dict[str, Any]:
    """List a workspace directory: the engine's walker (no link followed, no `.git`, none of
    the node's own files)."""
    return await asyncio.to_thread(list_directory, env.workspace, args, env.protected)


async def workspace_search(env: ToolEnv, args: WorkspaceSearchArgs) -> dict[str, Any]:
    """Search the workspace's text files (RE2, capped), as the engine's `workspace_search`."""
    return await asyncio.to_thread(search, env.workspace, args, env.protected)


ToolFn = Callable[[ToolEnv, Any], Awaitable[dict[str, Any]]]

TOOLS: dict[str, tuple[type[BaseModel], ToolFn]] = {
    SAFE_SHELL_EXEC: (SafeShellExecArgs, safe_shell_exec),
    FILE_READ_WORKSPACE: (FileReadArgs, file_read_workspace),
    FILE_WRITE_WORKSPACE: (FileWriteArgs, file_write_workspace),
    FILE_LIST_WORKSPACE: (FileListArgs, file_list_workspace),
    WORKSPACE_SEARCH: (WorkspaceSearchArgs, workspace_search),
}
