"""`run_tests`: the workspace's tests with pytest, as structured results.

**It runs workspace code.** pytest imports the workspace's `conftest.py` files, test
modules and whatever its ini file names, by design; the agent can write all of them, so a
run can do anything the console's user can. That is why it is medium risk and off by
default, and why its results are only as honest as that code (a `conftest.py` can forge
them). What the tool keeps from the agent's *arguments* is anything more: they may only
select tests — node ids (confined to the workspace, off the console's own files, behind
`--` so none is read as an option), `-k`, `-m`, `maxfail` — and every word is checked by
the same pytest rules as `shell_exec` (`engine.safety.command_specs.PYTEST`: no `@file`,
no option that writes, deletes, loads a plugin or reads another configuration). The tool
adds its own fixed options: the workspace as root directory (node ids relative to it), no
cache provider (nothing written to `.pytest_cache`) and a JUnit XML report in a temporary
directory outside the workspace, which it reads back (size-capped, no DOCTYPE: entity
expansion is refused) and deletes. The child runs with
`engine.safety.commands.run_argv`: no shell, a scrubbed environment, its own process
group killed on timeout, capped output. The interpreter is the console's own
(`sys.executable`), refused if it lies in the workspace.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import CommandFailed, ToolFailure
from engine.safety.command_rules import Where, check_arguments
from engine.safety.command_specs import PYTEST
from engine.safety.commands import run_argv, scrubbed_env
from engine.tools.spec import Risk, ToolContext, ToolSpec

MAX_TIMEOUT_SEC = 1800.0
REPORT_CAP = 20_000_000
MESSAGE_CHARS = 1000
TRACE_CHARS = 4000
MAX_LISTED = 200
OUTPUT_TAIL = 8000
# pytest's exit codes: 0 all passed, 1 some failed, 5 none collected are results; the rest
# (interrupted, internal error, usage error) mean the run itself failed.
_RESULT_CODES = {0: "passed", 1: "failed", 5: "no tests collected"}


class TestsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Test files, directories or node ids (path::Class::test); empty: all",
    )
    keyword: str | None = Field(
        None, min_length=1, max_length=500, description="Only tests matching this -k expression"
    )
    markers: str | None = Field(
        None, min_length=1, max_length=500, description="Only tests matching this -m expression"
    )
    maxfail: int | None = Field(None, ge=1, le=10_000, description="Stop after this many failures")
    timeout_sec: float = Field(300.0, gt=0, le=MAX_TIMEOUT_SEC, description="Kill the run after")


def selection(args: TestsArgs) -> list[str]:
    """The agent's part of the argv: selection options, then `--` and the targets."""
    words: list[str] = []
    if args.keyword is not None:
        words += ["-k", args.keyword]
    if args.markers is not None:
        words += ["-m", args.markers]
    if args.maxfail is not None:
        words += ["--maxfail", str(args.maxfail)]
    if args.targets:
        words += ["--", *args.targets]
    return words


def _check(ctx: ToolContext, args: TestsArgs) -> None:
    where = Where(ctx.workspace, ctx.protected, field="run_tests")
    check_arguments(PYTEST, selection(args), where)
    _interpreter(ctx.workspace)


def _interpreter(workspace: Path) -> str:
    python = Path(sys.executable)
    if python.resolve().is_relative_to(workspace.resolve()) or python.absolute().is_relative_to(
        workspace.absolute()
    ):
        raise ToolFailure(
            f"run_tests: the console's Python ({python}) lies in the workspace, which the "
            "agent can write; run the console from an environment outside it"
        )
    return str(python)


def _cut(text: str | None, cap: int) -> str:
    text = text or ""
    return text if len(text) <= cap else text[:cap] + f"\n… [{len(text) - cap} more characters]"


def _node_id(case: ElementTree.Element) -> str:
    """pytest's node id from an xunit1 test case (`file`, dotted `classname`, `name`)."""
    name = case.get("name", "?")
    file = case.get("file") or ""
    classname = case.get("classname") or ""
    if not file:
        return f"{classname}::{name}" if classname else name
    module = file.removesuffix(".py").replace("/", ".").replace("\\", ".")
    rest = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
    return "::".join([file, *(rest.split(".") if rest else []), name])


def parse_report(data: bytes) -> dict[str, Any]:
    """Counts and failures from a JUnit XML report."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ToolFailure("run_tests: the report declares a DOCTYPE or entities; not read")
    try:
        # No DOCTYPE means no entity can be declared, so nothing expands.
        root = ElementTree.fromstring(data)  # noqa: S314
    except ElementTree.ParseError as err:
        raise ToolFailure(f"run_tests: the test report is not valid XML ({err})") from err
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    problems: list[dict[str, Any]] = []
    for case in root.iter("testcase"):
        node = _node_id(case)
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "errors"
                if len(problems) < MAX_LISTED:
                    problems.append(
                        {
                            "node_id": node,
                            "outcome": "failed" if child.tag == "failure" else "error",
                            "message": _cut(child.get("message"), MESSAGE_CHARS),
                            "traceback": _cut(child.text, TRACE_CHARS),
                        }
                    )
                break
            if child.tag == "skipped":
                outcome = "skipped"
        counts[outcome] += 1
    return {**counts, "total": sum(counts.values()), "problems": problems}


def _read_report(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            data = handle.read(REPORT_CAP + 1)
    except OSError:
        return None
    if len(data) > REPORT_CAP:
        raise ToolFailure(f"run_tests: the test report is over {REPORT_CAP} bytes; not read")
    return data


def _report_dir(workspace: Path) -> Path:
    """A fresh private directory outside the workspace for the report."""
    made = Path(tempfile.mkdtemp(prefix="daena-run-tests-"))
    if made.resolve().is_relative_to(workspace.resolve()):
        shutil.rmtree(made, ignore_errors=True)
        raise ToolFailure("run_tests: the temporary directory lies in the workspace (TMPDIR)")
    return made


async def _run(ctx: ToolContext, args: TestsArgs) -> dict[str, Any]:
    _check(ctx, args)
    python = _interpreter(ctx.workspace)
    report_dir = await asyncio.to_thread(_report_dir, ctx.workspace)
    try:
        report = report_dir / "report.xml"
        argv = [
            python,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--tb=short",
            "--color=no",
            f"--junitxml={report}",
            f"--rootdir={ctx.workspace}",  # node ids relative to the workspace
            "-o",
            "junit_family=xunit1",
            *selection(args),
        ]
        env = scrubbed_env({"PYTHONDONTWRITEBYTECODE": "1"})
        result = await run_argv(
            argv, cwd=ctx.workspace, timeout_sec=args.timeout_sec, output_cap=200_000, env=env
        )
        tail = _cut(result.stdout[-OUTPUT_TAIL:], OUTPUT_TAIL)
        if result.timed_out:
            raise CommandFailed(
                f"run_tests: the tests did not finish within timeout_sec={args.timeout_sec:g} "
                "and were killed",
                {"timed_out": True, "output_tail": tail},
            )
        data = await asyncio.to_thread(_read_report, report)
        if result.returncode not in _RESULT_CODES or data is None:
            raise CommandFailed(
                f"run_tests: pytest exited with {result.returncode} without results: "
                + (result.stderr.strip() or result.stdout.strip())[-500:],
                {"returncode": result.returncode, "output_tail": tail},
            )
        summary = parse_report(data)
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
    return {
        "outcome": _RESULT_CODES[result.returncode],
        "returncode": result.returncode,
        **summary,
        "argv": result.argv,
        "output_tail": tail,
    }


RUN_TESTS = ToolSpec(
    name="run_tests",
    description=(
        "Run the workspace's tests with pytest (RUNS WORKSPACE CODE): select by node id, "
        "-k or -m; passed/failed/errors with node ids and capped tracebacks."
    ),
    risk=Risk.MEDIUM,
    default_enabled=False,
    args_model=TestsArgs,
    run=_run,
    check=_check,
    timeout_sec=MAX_TIMEOUT_SEC + 30,
    output_cap=1_000_000,
    tags=("runs-workspace-code",),
)

TOOLS = [RUN_TESTS]
