"""Races between engines on separate PostgreSQL connections (as on separate hosts): a grant
is consumed once, a request is decided once, a task is driven by one engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine import Engine, EngineError, RunRequest
from engine.tasks.playbooks import PlaybookStep
from tests.conftest import make_settings
from tests.postgres.cluster import Cluster

pytestmark = pytest.mark.no_postgres
ENGINES = 4


async def test_grants_requests_and_tasks_race_on_separate_connections(
    pg_cluster: Cluster, workspace: Path, db_path: Path
) -> None:
    url = pg_cluster.fresh_database()
    settings = make_settings(workspace, db_path, DAENA_DB_URL=url)
    async with (
        Engine.open(settings) as a,
        Engine.open(settings) as b,
        Engine.open(settings) as c,
        Engine.open(settings) as d,
    ):
        everyone = [a, b, c, d]
        assert len({e.db.origin for e in everyone}) == ENGINES  # four connections
        await a.set_tool_enabled("filesystem_write", True)
        await a.update_config({"approval_mode": "require_approval"})
        for round_ in range(5):
            args = {"path": f"g{round_}.txt", "content": "x"}
            grant = await a.grant("filesystem_write", args)
            runs = await asyncio.gather(
                *(
                    e.run(
                        RunRequest(
                            tool="filesystem_write",
                            args=args,
                            approval_id=grant.id,
                            requester="agent:x",
                        )
                    )
                    for e in everyone
                )
            )
            assert sum(r.status == "ok" for r in runs) == 1, [r.status for r in runs]
            request = await a.as_agent("bot").request("git_status", reason=f"race {round_}")
            decided = await asyncio.gather(
                *(e.approve(request.id, reason="race") for e in everyone), return_exceptions=True
            )
            assert sum(not isinstance(x, BaseException) for x in decided) == 1, decided
            assert all(isinstance(x, EngineError) for x in decided if isinstance(x, BaseException))
            task = await a.tasks.create(f"task {round_}", [PlaybookStep(tool="git_status")])
            await asyncio.gather(*(e.tasks.run(task.id) for e in everyone), return_exceptions=True)
            assert (await a.tasks.get(task.id)).status == "completed"
        rows = await a.db.fetchall(
            "SELECT action, approval_id, task_id FROM audit WHERE action = 'run' AND status = 'ok'"
        )
        by_approval: dict[str, int] = {}
        for r in rows:
            if r["approval_id"]:
                by_approval[r["approval_id"]] = by_approval.get(r["approval_id"], 0) + 1
        assert len(by_approval) == 10 and set(by_approval.values()) == {1}  # 5 grants, 5 requests
        # (the other engines' attempts with a used grant are recorded as refused runs)
        assert sum(1 for r in rows if r["task_id"]) == 5  # each task's one step ran once
        assert (await a.audit.verify()).ok
