"""`daena approvals extend ID --by 10m`: one line in, one audited extension out."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from daena_tui.cli import main
from engine import Engine, Settings
from engine.approvals import REQUEST_TTL_SEC
from engine.runs import RunRequest


async def make_request(settings: Settings) -> str:
    async with Engine.open(settings) as eng:
        await eng.policy.update({"tool_enabled": {"filesystem_write": True}}, "op")
        call = RunRequest(tool="filesystem_write", args={"path": "a", "content": "b"})
        return (await eng.request_approval(call)).id


def test_extend_by_a_duration(
    settings: Settings, capsys: pytest.CaptureFixture[str], workspace: Path, db_path: Path
) -> None:
    request_id = asyncio.run(make_request(settings))
    base = ["--db", str(db_path), "--workspace", str(workspace), "--env-file", ""]
    assert main([*base, "--json", "approvals", "extend", request_id, "--by", "10m"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["expires_at"] - shown["created_at"] == REQUEST_TTL_SEC + 600
    for by, needle in (("soon", "--by: 'soon' is not a duration"), ("0", "more than 0 s")):
        assert main([*base, "approvals", "extend", request_id, "--by", by]) == 2
        out, err = capsys.readouterr()
        assert out == "" and needle in err and len(err.strip().splitlines()) == 1
    assert main([*base, "approvals", "extend", "req_nope", "--by", "1m"]) == 2
    assert "no approval request 'req_nope'" in capsys.readouterr().err
