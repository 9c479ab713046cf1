"""`daena mcp add|list|tools|enable|disable|refresh|remove|sessions`: the operator's side."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from daena_tui.cli import main

FICKLE = str(Path(__file__).with_name("fickle_server.py"))


def daena(
    capsys: pytest.CaptureFixture[str], workspace: Path, db: Path, *args: str
) -> tuple[int, str, str]:
    where = ["--env-file", "", "--db", str(db), "--workspace", str(workspace)]
    code = main([*where, "--operator", "op@test", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_tools_enable_refresh_remove_with_hostile_descriptions_shown_inert(
    capsys: pytest.CaptureFixture[str], workspace: Path, db_path: Path, tmp_path: Path
) -> None:
    state = tmp_path / "fickle"
    state.mkdir()
    (state / "description").write_text("Echo \x1b[2J\x1b]0;pwned\x07 [b]bold[/b]\u202e")
    code, out, err = daena(
        capsys, workspace, db_path, "mcp", "add", "fickle", "--", sys.executable, FICKLE, str(state)
    )
    assert code == 0, err
    assert "all disabled" in out
    code, out, _ = daena(capsys, workspace, db_path, "mcp", "tools", "fickle")
    assert code == 0 and "fickle.echo" in out and "unpinned" in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    code, out, _ = daena(capsys, workspace, db_path, "--json", "mcp", "tools")
    data = {t["name"]: t for t in json.loads(out)}
    assert data["fickle.echo"]["enabled"] is False and data["fickle.echo"]["risk"] == "low"
    assert "\x1b" not in out  # JSON escapes controls
    code, out, _ = daena(
        capsys, workspace, db_path, "mcp", "enable", "fickle.echo", "--risk", "medium"
    )
    assert code == 0 and "risk medium" in out
    code, out, _ = daena(capsys, workspace, db_path, "run", "fickle.echo", "--arg", "text=hi")
    assert code == 3  # medium: waits for an operator
    (state / "description").write_text("something else")
    code, out, _ = daena(capsys, workspace, db_path, "mcp", "refresh", "fickle")
    assert code == 0 and "fickle.echo" in out and "disabled" in out
    code, out, _ = daena(capsys, workspace, db_path, "--json", "mcp", "tools", "fickle")
    echo = {t["name"]: t for t in json.loads(out)}["fickle.echo"]
    assert echo["pin"] == "changed" and echo["enabled"] is False
    assert echo["changed_definition"]["description"] == "something else"
    code, out, _ = daena(capsys, workspace, db_path, "mcp", "list")
    assert code == 0 and "fickle" in out and "stdio" in out
    code, out, _ = daena(capsys, workspace, db_path, "mcp", "remove", "fickle")
    assert code == 0
    code, out, _ = daena(capsys, workspace, db_path, "--json", "mcp", "list")
    assert json.loads(out) == []


def test_bad_input_is_one_line_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], workspace: Path, db_path: Path
) -> None:
    code, _, err = daena(capsys, workspace, db_path, "mcp", "add", "x", "--url", "ftp://h/")
    assert code != 0 and "url:" in err and "Traceback" not in err
    code, _, err = daena(capsys, workspace, db_path, "mcp", "add", "UPPER", "--", "true")
    assert code != 0 and "name:" in err
    code, _, err = daena(capsys, workspace, db_path, "mcp", "add", "none")
    assert code != 0 and "either a command" in err
    code, _, err = daena(capsys, workspace, db_path, "mcp", "enable", "git_status")
    assert code != 0 and "SERVER.tool" in err
    code, _, err = daena(capsys, workspace, db_path, "mcp", "tools", "ghost")
    assert code != 0 and "no MCP server" in err
    code, out, _ = daena(capsys, workspace, db_path, "--json", "mcp", "list")
    assert json.loads(out) == []
    code, out, _ = daena(capsys, workspace, db_path, "mcp", "sessions")
    assert code == 0 and "none" in out
