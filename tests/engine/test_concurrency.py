"""Concurrency: a slow tool never delays anything else in the engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine import Engine
from tests.conftest import make_settings


async def test_ten_slow_tools_do_not_block_listing_or_dry_runs(
    workspace: Path, db_path: Path
) -> None:
    settings = make_settings(workspace, db_path, SHELL_ALLOWLIST='["sleep 2", "git status"]')
    async with Engine.open(settings) as eng:
        await eng.update_config({"approval_mode": "auto"})
        slow = [
            asyncio.create_task(eng.run("shell_exec", {"command": "sleep 2", "timeout_sec": 30}))
            for _ in range(10)
        ]
        await asyncio.sleep(0.2)  # let all ten child processes start
        tools = await eng.list_tools()
        dry = await eng.run("shell_exec", {"command": "git status"}, dry_run=True)
        status = await eng.run("git_status")
        # Everything above answered while every slow run was still going.
        assert not any(task.done() for task in slow)
        assert {t.name for t in tools} >= {"shell_exec", "git_status"}
        assert dry.status == "dry_run" and status.status == "ok"
        results = await asyncio.gather(*slow)
    assert [r.status for r in results] == ["ok"] * 10
    assert all(r.result and r.result["argv"] == ["sleep", "2"] for r in results)
