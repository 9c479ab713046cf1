"""`shell_exec`: an allowlisted command in the workspace, without a shell (docs/security.md,
promise 1).

All the safety lives in `engine.safety.commands` and `engine.safety.command_rules` (shared
with the node server): the allowlist entry, the options and operands its command spec allows
(paths confined to the workspace and kept off the console's own files), and for git the
hardened configuration. This module only wires it to the tool contract. A non-zero exit or a
timeout is a failure (`CommandFailed`, carrying the full result), never "ok" with an error
hidden inside.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import CommandFailed
from engine.safety.commands import (
    Allowed,
    CommandResult,
    allow_command,
    command_to_run,
    run_argv,
    split_command,
)
from engine.tools.spec import Risk, ToolContext, ToolSpec

OUTPUT_CAP = 200_000
MAX_TIMEOUT_SEC = 600.0


class ShellArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | list[str] = Field(
        description=(
            "Command line or argv list: an allowlisted command, with only the options and "
            "workspace paths its rules allow"
        )
    )
    timeout_sec: float = Field(
        30.0, gt=0, le=MAX_TIMEOUT_SEC, description="Kill the process tree after this long"
    )


def allowed_argv(ctx: ToolContext, command: str | list[str]) -> Allowed:
    """Split and allowlist-check a command: the entry that admits it and the argv to run."""
    argv = split_command(command)
    return allow_command(
        argv, ctx.shell_allowlist, workspace=ctx.workspace, protected=ctx.protected
    )


def raise_for_result(result: CommandResult, command: list[str] | None = None) -> None:
    """Turn a timeout or non-zero exit into `CommandFailed` with the result attached; the
    message names `command` (what was asked) when given, else the argv that ran."""
    shown = " ".join(command or result.argv)
    if result.timed_out:
        raise CommandFailed(
            f"command: {shown!r} timed out; its process tree was killed",
            result.to_dict(),
            title="Tool timed out",
        )
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1:] or result.stdout.strip().splitlines()[-1:]
        detail = f": {last[0][:200]}" if last else ""
        raise CommandFailed(
            f"command: {shown!r} exited with code {result.returncode}{detail}", result.to_dict()
        )


def _check(ctx: ToolContext, args: ShellArgs) -> None:
    allowed_argv(ctx, args.command)


async def _dry_run(ctx: ToolContext, args: ShellArgs) -> dict[str, Any]:
    allowed = allowed_argv(ctx, args.command)
    # Reading the repository's configuration for the hardening runs git: not on the loop.
    argv, _ = await asyncio.to_thread(command_to_run, allowed.argv, ctx.workspace)
    return {
        "argv": argv,
        "command": split_command(args.command),
        "allowed_by": allowed.entry,
        "cwd": str(ctx.workspace),
    }


async def _run(ctx: ToolContext, args: ShellArgs) -> dict[str, Any]:
    allowed = allowed_argv(ctx, args.command)  # again: `run` may be called without `check`
    argv, env = await asyncio.to_thread(command_to_run, allowed.argv, ctx.workspace)
    result = await run_argv(
        argv,
        cwd=ctx.workspace,
        timeout_sec=args.timeout_sec,
        output_cap=OUTPUT_CAP,
        env=env,
    )
    raise_for_result(result, split_command(args.command))
    return result.to_dict()


SHELL_EXEC = ToolSpec(
    name="shell_exec",
    description=(
        "Run an allowlisted command (no shell; only the options and workspace paths its "
        "rules allow) in the workspace with a scrubbed environment, a timeout and capped "
        "output."
    ),
    risk=Risk.MEDIUM,
    args_model=ShellArgs,
    run=_run,
    check=_check,
    dry_run=_dry_run,
    timeout_sec=30.0,
    output_cap=OUTPUT_CAP,
)

TOOLS = [SHELL_EXEC]
