"""`daena agents`: the token is printed once, never listed, and only its hash is stored."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest

from daena_tui.cli import main

TOKEN = re.compile(r"daena_agent_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")


def daena(
    capsys: pytest.CaptureFixture[str], workspace: Path, db: Path, *args: str
) -> tuple[int, str, str]:
    code = main(["--db", str(db), "--workspace", str(workspace), "--operator", "op@test", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.no_postgres  # reads the SQLite file's whole dump (iterdump)
def test_token_create_prints_it_once_list_never_shows_it_db_holds_only_the_hash(
    capsys: pytest.CaptureFixture[str], workspace: Path, db_path: Path
) -> None:
    code, out, _ = daena(capsys, workspace, db_path, "agents", "token", "create", "bot")
    assert code == 0
    [token] = TOKEN.findall(out)
    assert "agent:bot" in out and "shown only this once" in out
    for args in (("agents",), ("agents", "list"), ("--json", "agents", "list")):
        code, listed, _ = daena(capsys, workspace, db_path, *args)
        assert code == 0 and "bot" in listed
        assert token not in listed and not TOKEN.search(listed)
        assert hashlib.sha256(token.encode()).hexdigest() not in listed
    code, logs, _ = daena(capsys, workspace, db_path, "--json", "logs", "--limit", "100")
    assert code == 0 and "agent_token_create" in logs and token not in logs
    with sqlite3.connect(db_path) as raw:
        dump = "\n".join(raw.iterdump())
    assert token not in dump
    assert hashlib.sha256(token.encode()).hexdigest() in dump


def test_json_create_revoke_and_list_states(
    capsys: pytest.CaptureFixture[str], workspace: Path, db_path: Path
) -> None:
    code, out, _ = daena(
        capsys, workspace, db_path, "--json", "agents", "token", "create", "bot", "--expires", "2h"
    )
    assert code == 0
    created = json.loads(out)
    assert TOKEN.fullmatch(created["token"]) and created["credential"]["state"] == "active"
    assert "token_hash" not in created["credential"]
    code, _, err = daena(capsys, workspace, db_path, "agents", "token", "create", "bot")
    assert code == 2 and "already has an active token" in err and err.count("\n") == 1
    code, out, _ = daena(capsys, workspace, db_path, "agents", "revoke", "bot")
    assert code == 0 and "revoked 1 token" in out
    code, out, _ = daena(capsys, workspace, db_path, "--json", "agents", "list")
    assert [c["state"] for c in json.loads(out)] == ["revoked"]
    code, _, err = daena(capsys, workspace, db_path, "agents", "revoke", "bot")
    assert code == 2 and "no token to revoke" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("agents", "token", "create", "bad name"), "name: "),
        (("agents", "token", "create", "agent:bot"), "name: "),
        (("agents", "token", "create", "bot", "--expires", "yesterday"), "expires: "),
        (("agents", "token", "create", "bot", "--expires", "2001-01-01"), "not in the future"),
    ],
)
def test_bad_input_is_one_line_and_mints_nothing(
    capsys: pytest.CaptureFixture[str],
    workspace: Path,
    db_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    code, out, err = daena(capsys, workspace, db_path, *args)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not TOKEN.search(out)
    code, out, _ = daena(capsys, workspace, db_path, "--json", "agents", "list")
    assert code == 0 and json.loads(out) == []
