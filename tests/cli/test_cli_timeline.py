"""`daena timeline TRACE`: the run's stages in order, as text and as JSON."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from daena_tui.cli import main
from engine import Engine, Settings
from engine.runs import RunRequest


async def approved_run(settings: Settings) -> str:
    async with Engine.open(settings) as eng:
        await eng.policy.update({"tool_enabled": {"filesystem_write": True}}, "op")
        call = RunRequest(tool="filesystem_write", args={"path": "a", "content": "b"})
        result = await eng.run(call.model_copy(update={"requester": "agent:bot"}))
        assert result.approval_request_id
        await eng.approve(result.approval_request_id, operator="alice")
        return result.trace_id


def test_timeline_as_text_and_json(
    settings: Settings, capsys: pytest.CaptureFixture[str], workspace: Path, db_path: Path
) -> None:
    trace = asyncio.run(approved_run(settings))
    base = ["--db", str(db_path), "--workspace", str(workspace), "--env-file", ""]
    assert main([*base, "--json", "timeline", trace]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["stage"] for s in shown["steps"]] == ["request", "decision", "start", "outcome"]
    assert shown["waiting_for"] is None
    assert main([*base, "timeline", trace]) == 0
    out = capsys.readouterr().out
    assert "approval_approved" in out and "alice" in out
    for argv, needle in (
        (["timeline"], "give a trace id or --task ID"),
        (["timeline", trace, "--task", "t"], "give a trace id or --task ID"),
        (["timeline", "nope"], "no audit records for trace 'nope'"),
    ):
        assert main([*base, *argv]) == 2
        out, err = capsys.readouterr()
        assert out == "" and needle in err
