"""`sandbox_worker_run`: read-only pip queries (and `pip download`) in a throw-away directory.

The original "sandbox" passed the whole environment to its child and printed tokens. This
one has a fixed allowlist, maps `python`/`pip` to this interpreter (`sys.executable -m pip`,
so no PATH lookup decides what runs), starts in a fresh temporary directory with a scrubbed
environment, a timeout and capped output, and reports the effective argv.

Arguments are package names, versions and flags only: paths, URLs and options that read or
write elsewhere, build from source or switch interpreters are refused, and
`PIP_ONLY_BINARY=:all:` keeps `pip download` from running a package's build code.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import PolicyError
from engine.safety.commands import match_allowlist, run_argv, scrubbed_env, split_command
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
_DENIED_OPTIONS = frozenset(
    {
        "-r", "--requirement", "-c", "--constraint", "-e", "--editable",
        "-d", "--dest", "--destination-directory", "--src", "--root", "--prefix",
        "-t", "--target", "--log", "--log-file", "--cache-dir", "--no-binary",
        "--python", "-C", "--config-settings", "--global-option", "--build-option",
    }
)  # fmt: skip
SANDBOX_ENV = {
    "PIP_NO_INPUT": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_ONLY_BINARY": ":all:",
}


class SandboxArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | list[str] = Field(
        description="pip list/show/download or python -m pip list/show, e.g. 'pip show httpx'"
    )
    timeout_sec: float = Field(
        60.0, gt=0, le=MAX_TIMEOUT_SEC, description="Kill the process tree after this long"
    )


def sandbox_argv(command: str | list[str]) -> list[str]:
    """Validate a sandbox command and return the argv that will actually run."""
    argv = split_command(command)
    match_allowlist(argv, SANDBOX_ALLOWLIST)
    rest = argv[3:] if argv[0] == "python" else argv[1:]
    for arg in rest:
        option = arg.split("=", 1)[0]
        if option in _DENIED_OPTIONS:
            raise PolicyError(f"command: pip option {option!r} is not allowed in the sandbox")
        if not arg.startswith("-") and (arg.startswith(".") or any(c in arg for c in "/:@")):
            raise PolicyError(
                f"command: {arg!r} looks like a path or URL; the sandbox takes package names"
            )
    return [sys.executable, "-m", "pip", *rest]


def _check(ctx: ToolContext, args: SandboxArgs) -> None:
    sandbox_argv(args.command)


async def _dry_run(ctx: ToolContext, args: SandboxArgs) -> dict[str, Any]:
    return {"argv": sandbox_argv(args.command), "cwd": "(fresh temporary directory)"}


async def _run(ctx: ToolContext, args: SandboxArgs) -> dict[str, Any]:
    argv = sandbox_argv(args.command)
    with tempfile.TemporaryDirectory(prefix="daena-sandbox-") as tmp:
        result = await run_argv(
            argv,
            cwd=Path(tmp),
            timeout_sec=args.timeout_sec,
            output_cap=OUTPUT_CAP,
            env=scrubbed_env(SANDBOX_ENV),
        )
        left = sorted(await asyncio.to_thread(os.listdir, tmp))
    raise_for_result(result)
    # What `pip download` fetched; the directory (and the files) are gone afterwards.
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
