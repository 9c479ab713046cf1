"""Lists that stop at a limit say so (issue 19): `--limit N`, `--all`, and one line on
stderr "showing 5 of 7 …"; stdout keeps its shape (a JSON list stays a list)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from daena_tui.cli import main
from engine import AuditEntry, Engine
from tests.conftest import make_settings


class Daena:
    def __init__(self, workspace: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.base = ["--db", str(db), "--workspace", str(workspace), "--operator", "op@test"]
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main([*self.base, *args])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def daena(workspace: Path, db_path: Path, capsys: pytest.CaptureFixture[str]) -> Daena:
    return Daena(workspace, db_path, capsys)


def seed(workspace: Path, db_path: Path, requests: int, tasks: int, notes: int) -> None:
    async def go() -> None:
        async with Engine.open(make_settings(workspace, db_path)) as eng:
            await eng.set_tool_enabled("filesystem_write", True)
            agent = eng.as_agent("agent")
            for i in range(requests):
                await agent.run("filesystem_write", {"path": f"f{i}.txt", "content": "x"})
            for i in range(tasks):
                await eng.tasks.create_from_goal(f"goal {i}")
            for _ in range(notes):
                await eng.record(AuditEntry(actor="agent", action="note", status="ok"))

    asyncio.run(go())


def test_approvals_list_says_when_it_stops_short(daena: Daena, workspace, db_path) -> None:
    seed(workspace, db_path, requests=7, tasks=0, notes=0)
    code, out, err = daena("--json", "approvals", "list", "--limit", "5")
    assert code == 0 and len(json.loads(out)) == 5  # still a list
    assert "showing 5 of 7 pending requests (soonest expiry first)" in err
    assert "--limit N or --all for more" in err
    code, out, err = daena("approvals", "list", "--all")
    assert code == 0 and err == "" and out.count("filesystem_write") == 7
    code, out, err = daena("approvals", "list")  # the default limit is above 7
    assert code == 0 and err == ""
    code, out, err = daena("--json", "approvals", "list", "--status", "all", "--limit", "2")
    assert len(json.loads(out)) == 2 and "showing 2 of 7 requests (newest first)" in err
    for bad in ("0", "-3", "100001"):
        code, _, err = daena("approvals", "list", "--limit", bad)
        assert code == 2 and "--limit: must be between 1 and 100000" in err


def test_tasks_list_says_when_it_stops_short(daena: Daena, workspace, db_path) -> None:
    seed(workspace, db_path, requests=0, tasks=4, notes=0)
    code, out, err = daena("--json", "tasks", "list", "--limit", "3")
    assert code == 0 and len(json.loads(out)) == 3
    assert "showing 3 of 4 tasks (newest first)" in err
    code, out, err = daena("--json", "tasks", "list", "--all")
    assert len(json.loads(out)) == 4 and err == ""


def test_logs_say_when_older_records_exist(daena: Daena, workspace, db_path) -> None:
    seed(workspace, db_path, requests=0, tasks=0, notes=6)
    code, out, err = daena("--json", "logs", "--limit", "3")
    assert code == 0 and len(json.loads(out)) == 3
    assert "showing the 3 newest matching records; there are older ones" in err
    code, out, err = daena("--json", "logs", "--limit", "1000")
    assert code == 0 and "showing" not in err
