"""`daena explain`: the rule that would decide a call; nothing runs, nothing is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daena_tui.cli import main


def daena(
    capsys: pytest.CaptureFixture[str], workspace: Path, db: Path, *argv: str
) -> tuple[int, str, str]:
    code = main(["--db", str(db), "--workspace", str(workspace), "--env-file", "", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def records(capsys: pytest.CaptureFixture[str], workspace: Path, db: Path) -> int:
    code, out, _ = daena(capsys, workspace, db, "logs", "--json", "--limit", "100000")
    assert code == 0
    return len(json.loads(out))


def test_explain_under_a_what_if_policy_stores_and_runs_nothing(
    capsys: pytest.CaptureFixture[str], workspace: Path, db_path: Path
) -> None:
    enable = '--set=tool_enabled={"filesystem_write": true}'
    args = ("explain", "filesystem_write", "--arg", "path=new.txt", "--arg", "content=x")
    code, out, _ = daena(capsys, workspace, db_path, *args)
    assert code == 0 and "rule: disabled" in out
    before = records(capsys, workspace, db_path)
    code, out, _ = daena(capsys, workspace, db_path, "--json", *args, enable)
    decision = json.loads(out)
    assert code == 0 and decision["outcome"] == "needs_approval"
    assert decision["rule"] == "risk_mode" and decision["risk"] == "high"
    code, out, _ = daena(capsys, workspace, db_path, *args, enable, "--set=approval_mode=auto")
    assert "rule: approval_off" in out
    assert not (workspace / "new.txt").exists()
    assert records(capsys, workspace, db_path) == before
    code, out, _ = daena(capsys, workspace, db_path, "--json", "config", "show")
    assert json.loads(out)["tool_enabled"]["filesystem_write"] is False


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--set", "bogus=1"], "bogus: unknown config key"),
        (["--set", "novalue"], "--set: 'novalue' must look like key=value"),
        (["--set", "approval_mode=sometimes"], "approval_mode"),
        (["--args", "[1]"], "--args: must be a JSON object"),
    ],
)
def test_bad_input_is_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str],
    workspace: Path,
    db_path: Path,
    argv: list[str],
    needle: str,
) -> None:
    code, out, err = daena(capsys, workspace, db_path, "explain", "git_status", *argv)
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1
