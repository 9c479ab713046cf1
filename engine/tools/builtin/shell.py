"""`shell_exec`: an allowlisted command in the workspace, without a shell (SPEC §4.3).

All the safety lives in `engine.safety.commands` (shared with the node server); this module
only wires it to the tool contract. A non-zero exit or a timeout is a failure
(`CommandFailed`, carrying the full result), never "ok" with an error hidden inside.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.safety.commands import (
    CommandFailed,
    CommandResult,
    match_allowlist,
    run_argv,
    scrubbed_env,
    split_command,
)
from engine.tools.spec import Risk, ToolContext, ToolSpec

OUTPUT_CAP = 200_000
MAX_TIMEOUT_SEC = 600.0


class ShellArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | list[str] = Field(
        description="Command line or argv list; must start with an allowlisted prefix"
    )
    timeout_sec: float = Field(
        30.0, gt=0, le=MAX_TIMEOUT_SEC, description="Kill the process tree after this long"
    )


def allowed_argv(ctx: ToolContext, command: str | list[str]) -> tuple[list[str], str]:
    """Split and allowlist-check a command; returns (argv, matching allowlist entry)."""
    argv = split_command(command)
    return argv, match_allowlist(argv, ctx.shell_allowlist)


def raise_for_result(result: CommandResult) -> None:
    """Turn a timeout or non-zero exit into `CommandFailed` with the result attached."""
    shown = " ".join(result.argv)
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
    argv, entry = allowed_argv(ctx, args.command)
    return {"argv": argv, "allowed_by": entry, "cwd": str(ctx.workspace)}


async def _run(ctx: ToolContext, args: ShellArgs) -> dict[str, Any]:
    argv, _ = allowed_argv(ctx, args.command)  # again: `run` may be called without `check`
    result = await run_argv(
        argv,
        cwd=ctx.workspace,
        timeout_sec=args.timeout_sec,
        output_cap=OUTPUT_CAP,
        env=scrubbed_env(),
    )
    raise_for_result(result)
    return result.to_dict()


SHELL_EXEC = ToolSpec(
    name="shell_exec",
    description=(
        "Run an allowlisted command (argv prefix match, no shell) in the workspace with a "
        "scrubbed environment, a timeout and capped output."
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
