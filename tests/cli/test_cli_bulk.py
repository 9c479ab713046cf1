"""`daena approvals approve ID ID …` / `deny ID ID … --reason`: each request decided on its
own, each approved one run once with its own stored arguments, and no grant minted."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from daena_tui.cli import main
from engine import Engine, Settings
from engine.runs import RunRequest


async def make_requests(settings: Settings, n: int) -> list[str]:
    async with Engine.open(settings) as eng:
        await eng.policy.update({"tool_enabled": {"filesystem_write": True}}, "op")
        ids = []
        for i in range(n):
            call = RunRequest(
                tool="filesystem_write",
                args={"path": f"f{i}.txt", "content": f"body {i}"},
                requester="agent-x",
            )
            ids.append((await eng.request_approval(call)).id)
        return ids


async def grants_and_runs(settings: Settings) -> tuple[int, dict[str, int]]:
    async with Engine.open(settings) as eng:
        grants = (await eng.db.fetchall("SELECT COUNT(*) FROM grants"))[0][0]
        rows = await eng.db.fetchall(
            "SELECT approval_id, COUNT(*) FROM audit WHERE action = 'run' AND status = 'ok' "
            "GROUP BY approval_id"
        )
        return grants, {row[0]: row[1] for row in rows}


def test_approve_several_ids_each_runs_once_and_a_refused_one_is_named(
    settings: Settings, capsys: pytest.CaptureFixture[str], workspace: Path, db_path: Path
) -> None:
    ids = asyncio.run(make_requests(settings, 4))
    base = ["--db", str(db_path), "--workspace", str(workspace), "--env-file", ""]
    assert main([*base, "approvals", "deny", ids[3], "--reason", "no"]) == 0
    capsys.readouterr()
    code = main([*base, "--json", "approvals", "approve", *ids])
    out, err = capsys.readouterr()
    assert code == 3  # the already-denied one is refused; the other three ran
    shown = json.loads(out)
    assert [item["id"] for item in shown] == ids
    assert [item.get("status") for item in shown[:3]] == ["ok", "ok", "ok"]
    assert "already denied" in shown[3]["refused"] and ids[3] in err
    for i in range(3):
        assert (workspace / f"f{i}.txt").read_text() == f"body {i}"
    assert not (workspace / "f3.txt").exists()
    grants, runs = asyncio.run(grants_and_runs(settings))
    assert grants == 0 and runs == {ids[0]: 1, ids[1]: 1, ids[2]: 1}


def test_deny_several_ids_with_one_reason(
    settings: Settings, capsys: pytest.CaptureFixture[str], workspace: Path, db_path: Path
) -> None:
    ids = asyncio.run(make_requests(settings, 2))
    base = ["--db", str(db_path), "--workspace", str(workspace), "--env-file", ""]
    assert main([*base, "approvals", "deny", *ids, "--reason", "not now"]) == 0
    out = capsys.readouterr().out
    assert all(f"denied {i}" in out for i in ids) and "not now" in out
    assert main([*base, "approvals", "deny", *ids, "--reason", "again"]) == 3
    err = capsys.readouterr().err
    assert all(i in err for i in ids) and "Traceback" not in err
