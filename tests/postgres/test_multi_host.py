"""Four processes acting as four hosts on one PostgreSQL database: audited runs, approvals
and task runs racing each other. Nothing lost, nothing doubled, one chain, no deadlock.
(benchmarks/bench_postgres.py runs the same workers at 500 runs each.)"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from engine import Engine
from engine.tasks.playbooks import PlaybookStep
from tests.conftest import make_settings
from tests.postgres.cluster import Cluster

pytestmark = pytest.mark.no_postgres  # the hosts share one database this test makes
HOSTS = 4
RUNS = 40
TASKS = 6
ROOT = Path(__file__).resolve().parents[2]


def start_hosts(
    url: str, db_path: Path, workspace: Path, out: Path, runs: int
) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DAENA_DB_URL": url,
        "DAENA_DB_PATH": str(db_path),
        "EXECUTION_WORKSPACE_ROOT": str(workspace),
        "DAENA_SIM_START": str(out / "go"),
        "PYTHONPATH": str(ROOT),
    }
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.postgres.host_worker",
                f"host-{i}",
                str(runs),
                str(out / f"{i}.json"),
            ],
            env=env,
            cwd=ROOT,
        )
        for i in range(HOSTS)
    ]


async def prepare(url: str, db_path: Path, workspace: Path) -> list[str]:
    async with Engine.open(make_settings(workspace, db_path, DAENA_DB_URL=url)) as eng:
        await eng.set_tool_enabled("filesystem_write", True)  # approved runs change files
        tasks = [
            await eng.tasks.create(f"task {i}", [PlaybookStep(tool="git_status")])
            for i in range(TASKS)
        ]
        return [t.id for t in tasks]


async def check(
    url: str, db_path: Path, workspace: Path, results: list[dict[str, object]], task_ids: list[str]
) -> None:
    async with Engine.open(make_settings(workspace, db_path, DAENA_DB_URL=url)) as eng:
        report = await eng.audit.verify()
        assert report.ok, report.problem
        rows = await eng.db.fetchall(
            "SELECT action, trace_id, task_id, approval_id, status FROM audit"
        )
        actions = Counter(r["action"] for r in rows)
        direct = sum(int(str(r["runs"])) for r in results)
        requests = await eng.approvals.list(status=None, limit=10_000)
        filed = [r for r in requests if r.requester.startswith("agent:agent-host")]
        assert len(filed) == HOSTS * ((RUNS + 9) // 10)  # every request filed is stored once
        approved_by_hosts = [i for r in results for i in r["approved"]]  # type: ignore[attr-defined]
        assert len(approved_by_hosts) == len(set(approved_by_hosts))  # decided at most once
        decided = [r for r in filed if r.status == "approved"]
        assert sorted(r.id for r in decided) == sorted(approved_by_hosts)
        # each approved request ran exactly once: one run record naming it
        runs_of = Counter(
            r["approval_id"] for r in rows if r["action"] == "run" and r["approval_id"]
        )
        assert all(runs_of[r.id] == 1 for r in decided), runs_of
        # every task was driven to completion by one host: its one step ran once
        for task_id in task_ids:
            task = await eng.tasks.get(task_id)
            assert task.status == "completed", task
            assert sum(1 for r in rows if r["action"] == "run" and r["task_id"] == task_id) == 1
        # runs with a trace: one start, one outcome, no lease left behind
        starts = Counter(r["trace_id"] for r in rows if r["action"] == "run_start")
        ends = Counter(r["trace_id"] for r in rows if r["action"] == "run")
        assert all(n == 1 for n in starts.values()) and all(n == 1 for n in ends.values())
        assert set(starts) <= set(ends)  # (read-only tools record no start)
        assert len(starts) >= len(decided) > 0  # every approved write recorded its start
        assert actions["run"] == direct + len(decided) + TASKS
        leases = await eng.db.fetchall("SELECT trace_id FROM run_leases")
        assert leases == []


def test_four_hosts_share_one_database(
    pg_cluster: Cluster, tmp_path: Path, workspace: Path
) -> None:
    url = pg_cluster.fresh_database()
    db_path = tmp_path / "state" / "daena.db"  # names the shared audit head key
    task_ids = asyncio.run(prepare(url, db_path, workspace))
    out = tmp_path / "hosts"
    out.mkdir()
    procs = start_hosts(url, db_path, workspace, out, RUNS)
    (out / "go").touch()
    for proc in procs:
        assert proc.wait(timeout=600) == 0  # no deadlock: every host finishes
    results = [json.loads((out / f"{i}.json").read_text()) for i in range(HOSTS)]
    assert all(r["verify"] is True and not r["errors"] for r in results), results
    assert {r["host"] for r in results} == {f"host-{i}" for i in range(HOSTS)}
    asyncio.run(check(url, db_path, workspace, results, task_ids))
