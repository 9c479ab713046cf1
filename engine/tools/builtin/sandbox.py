"""`sandbox_worker_run`: read-only pip queries (and `pip download`) in a throw-away directory.

The original "sandbox" passed the whole environment to its child and printed tokens, and
later filtered options by exact name, so `--index-url=http://evil`, `-i`, abbreviations
such as `--pyth` and an sdist's build backend all slipped past. Now:

- the same allow model as `shell_exec` (`engine.safety.command_specs`): only the options each
  pip subcommand's spec names, in full, with checked values; operands are package names
  (`pip download`: name and `==`-style versions), never paths or URLs;
- wheels only: `--only-binary=:all:` is added to `pip download` (and `PIP_ONLY_BINARY` set),
  dependencies included, so a package that only has an sdist fails instead of running its
  build code; dependencies are kept because they are wheels too;
- the index is the operator's: `PIP_CONFIG_FILE=/dev/null` (no pip.conf anywhere steers it),
  no agent option names an index, and only the index variables of the console's own
  environment (`PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`, ...) are passed on; unset, that is
  pip's default PyPI;
- `python`/`pip` are this interpreter (`sys.executable -m pip`, no PATH lookup), started in a
  fresh temporary directory (no workspace `pip.conf`, requirements or shadowing `pip/`) with
  a scrubbed environment, no pip cache, a timeout and capped output; the effective argv is
  reported.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import CommandFailed
from engine.safety.commands import (
    allow_command,
    pip_env,
    run_argv,
    scrubbed_env,
    split_command,
)
from engine.tools.builtin.shell import MAX_TIMEOUT_SEC, OUTPUT_CAP, raise_for_result
from engine.tools.spec import Risk, ToolContext, ToolSpec

SANDBOX_ALLOWLIST = (
    "pip list",
    "pip show",
    "pip download",
    "pip --version",
    "python -m pip list",
    "python -m pip show",
)
SANDBOX_ENV = {"PIP_ONLY_BINARY": ":all:", "PIP_NO_CACHE_DIR": "1"}


def sandbox_env() -> dict[str, str]:
    """The child's environment: scrubbed, no pip configuration file, the operator's index
    settings (`pip_env`), wheels only, no cache."""
    return scrubbed_env({**pip_env(), **SANDBOX_ENV})


class SandboxArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | list[str] = Field(
        description="pip list/show/download or python -m pip list/show, e.g. 'pip show httpx'"
    )
    timeout_sec: float = Field(
        60.0, gt=0, le=MAX_TIMEOUT_SEC, description="Kill the process tree after this long"
    )


def sandbox_argv(ctx: ToolContext, command: str | list[str]) -> list[str]:
    """Validate a sandbox command and return the argv that will actually run."""
    argv = split_command(command)
    allowed = allow_command(argv, SANDBOX_ALLOWLIST, workspace=ctx.workspace)
    run = allowed.argv
    # `python [-I] -m pip <rest>` or `pip <rest>`: always this interpreter's pip; the fresh
    # temporary directory is the current directory, so nothing can shadow the module.
    rest = run[run.index("-m") + 2 :] if run[0] == "python" else run[1:]
    return [sys.executable, "-m", "pip", *rest]


def _check(ctx: ToolContext, args: SandboxArgs) -> None:
    sandbox_argv(ctx, args.command)


async def _dry_run(ctx: ToolContext, args: SandboxArgs) -> dict[str, Any]:
    return {"argv": sandbox_argv(ctx, args.command), "cwd": "(fresh temporary directory)"}


async def _run(ctx: ToolContext, args: SandboxArgs) -> dict[str, Any]:
    argv = sandbox_argv(ctx, args.command)
    with tempfile.TemporaryDirectory(prefix="daena-sandbox-") as tmp:
        result = await run_argv(
            argv,
            cwd=Path(tmp),
            timeout_sec=args.timeout_sec,
            output_cap=OUTPUT_CAP,
            env=sandbox_env(),
        )
        left = sorted(await asyncio.to_thread(os.listdir, tmp))
    # What `pip download` fetched (also on failure); the directory and files are gone now.
    try:
        raise_for_result(result, split_command(args.command))
    except CommandFailed as failed:
        failed.result.update(cwd=tmp, files=left)
        raise
    return {**result.to_dict(), "cwd": tmp, "files": left}


SANDBOX_WORKER_RUN = ToolSpec(
    name="sandbox_worker_run",
    description=(
        "Run pip list/show/download (or python -m pip list/show) with this interpreter in a "
        "fresh temporary directory, scrubbed environment, timeout and capped output."
    ),
    risk=Risk.MEDIUM,
    args_model=SandboxArgs,
    run=_run,
    check=_check,
    dry_run=_dry_run,
    default_enabled=False,
    timeout_sec=60.0,
    output_cap=OUTPUT_CAP,
)

TOOLS = [SANDBOX_WORKER_RUN]
