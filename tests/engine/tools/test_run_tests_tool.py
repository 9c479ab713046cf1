"""run_tests with real pytest on a real workspace: structured results with pytest's node ids,
selection only, nothing written into the workspace, the report outside it, a scrubbed
environment, a timeout that kills the run. Attacks: options smuggled as targets or
expressions, `@file`, escapes, the console's own files, a hostile report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine import Engine
from engine.errors import ToolFailure
from engine.tools.builtin.tests_runner import parse_report
from tests.conftest import make_repo, make_settings

TESTS = {
    "test_math.py": (
        "import os\n"
        "import pytest\n\n"
        "def test_adds():\n    assert 1 + 1 == 2\n\n"
        "def test_breaks():\n    assert 1 + 1 == 3, 'arithmetic is broken'\n\n"
        "@pytest.mark.slow\n"
        "def test_slow_one():\n    pass\n\n"
        "@pytest.mark.skip(reason='later')\n"
        "def test_skipped():\n    pass\n\n"
        "def test_no_secrets_in_env():\n"
        "    assert 'EXECUTION_TOKEN' not in os.environ\n"
    ),
    "pkg/test_cls.py": (
        "import pytest\n\n"
        "@pytest.fixture\n"
        "def broken():\n    raise RuntimeError('fixture exploded')\n\n"
        "class TestThing:\n"
        "    def test_ok(self):\n        pass\n\n"
        "    def test_uses_broken(self, broken):\n        pass\n"
    ),
    "pkg/__init__.py": "",
    "pytest.ini": "[pytest]\nmarkers =\n    slow: slow tests\n",
}


@pytest.fixture
async def eng(
    workspace: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Engine]:
    monkeypatch.setenv("EXECUTION_TOKEN", "tok-SECRET-run-tests")
    make_repo(workspace, TESTS)
    (workspace / ".env").write_text("EXECUTION_TOKEN=tok-SECRET-run-tests\n")
    async with Engine.open(make_settings(workspace, db_path)) as engine:
        await engine.update_config({"tool_enabled": {"run_tests": True}, "approval_mode": "auto"})
        yield engine


def tree(workspace: Path) -> set[str]:
    return {
        str(p.relative_to(workspace))
        for p in workspace.rglob("*")
        if ".git" not in p.relative_to(workspace).parts
    }


async def run(eng: Engine, **args: Any) -> dict[str, Any]:
    result = await eng.run("run_tests", args)
    assert result.status == "ok", result.error
    assert result.result is not None
    return result.result


async def test_results_with_node_ids_and_nothing_written(eng: Engine, workspace: Path) -> None:
    before = tree(workspace)
    got = await run(eng)
    assert (got["passed"], got["failed"], got["errors"], got["skipped"]) == (4, 1, 1, 1)
    assert got["outcome"] == "failed" and got["returncode"] == 1
    problems = {p["node_id"]: p for p in got["problems"]}
    assert set(problems) == {
        "test_math.py::test_breaks",
        "pkg/test_cls.py::TestThing::test_uses_broken",
    }
    assert "arithmetic is broken" in problems["test_math.py::test_breaks"]["message"]
    assert (
        "fixture exploded" in problems["pkg/test_cls.py::TestThing::test_uses_broken"]["traceback"]
    )
    assert problems["pkg/test_cls.py::TestThing::test_uses_broken"]["outcome"] == "error"
    assert tree(workspace) == before  # no .pytest_cache, no report, no __pycache__
    report = next(a for a in got["argv"] if a.startswith("--junitxml="))
    assert not Path(report.split("=", 1)[1]).resolve().is_relative_to(workspace.resolve())
    assert not Path(report.split("=", 1)[1]).exists()  # the tool removed it


async def test_selection_by_node_id_keyword_and_marker(eng: Engine) -> None:
    one = await run(eng, targets=["test_math.py::test_adds"])
    assert (one["total"], one["passed"], one["outcome"]) == (1, 1, "passed")
    by_k = await run(eng, keyword="adds or test_ok")
    assert by_k["passed"] == 2 and by_k["total"] == 2
    by_m = await run(eng, markers="slow")
    assert by_m["total"] == 1 and by_m["passed"] == 1
    stop = await run(eng, targets=["test_math.py"], maxfail=1)
    assert stop["failed"] == 1
    none = await run(eng, keyword="nothing_matches_this")
    assert none["outcome"] == "no tests collected" and none["total"] == 0


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        ({"targets": ["--junitxml=/tmp/x.xml"]}, "must not start with '-'"),
        ({"targets": ["@args.txt"]}, "'@'"),
        ({"targets": ["../elsewhere/test_x.py"]}, "'..' component"),
        ({"targets": ["/etc/passwd"]}, "outside the workspace"),
        ({"targets": [".env"]}, "console's own files"),
        ({"targets": ["test_math.py::test_adds;id"]}, "plain identifier"),
        ({"keyword": "-p evil"}, "must not start with '-'"),
        ({"keyword": "@kargs.txt"}, "'@'"),
        ({"markers": "--basetemp=/tmp/x"}, "must not start with '-'"),
    ],
)
async def test_only_selection_gets_through(
    eng: Engine, workspace: Path, args: dict[str, Any], rule: str
) -> None:
    before = tree(workspace)
    result = await eng.run("run_tests", args)
    assert result.status == "refused" and rule in (result.error or ""), result.error
    assert tree(workspace) == before


async def test_a_hung_run_is_killed_at_its_timeout(eng: Engine, workspace: Path) -> None:
    (workspace / "test_hang.py").write_text(
        "import time\n\ndef test_hang():\n    time.sleep(600)\n"
    )
    result = await eng.run("run_tests", {"targets": ["test_hang.py"], "timeout_sec": 2})
    assert result.status == "timeout", result.error
    assert "killed" in (result.error or "")


async def test_off_by_default(workspace: Path, db_path: Path) -> None:
    make_repo(workspace, TESTS)
    async with Engine.open(make_settings(workspace, db_path)) as engine:
        result = await engine.run("run_tests", {})
    assert result.status == "refused" and "disabled" in (result.error or "")


def test_a_report_with_entities_is_not_read() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><testsuite>&b;</testsuite>'
    )
    with pytest.raises(ToolFailure, match="DOCTYPE"):
        parse_report(laughs)
    with pytest.raises(ToolFailure, match="not valid XML"):
        parse_report(b"<testsuite><testcase")
    many = (
        b"<testsuites><testsuite>"
        + b'<testcase name="t"><failure message="m">x</failure></testcase>' * 1000
        + b"</testsuite></testsuites>"
    )
    parsed = parse_report(many)
    assert parsed["failed"] == 1000 and len(parsed["problems"]) == 200
