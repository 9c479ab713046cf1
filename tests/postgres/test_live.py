"""Live updates on PostgreSQL: another process's new request reaches a watching engine through
LISTEN/NOTIFY, and an idle watcher waits on the notification, not on a poll."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import Engine
from engine.events import ApprovalRequested
from engine.storage import postgres
from tests.conftest import make_settings
from tests.postgres.cluster import Cluster

pytestmark = pytest.mark.no_postgres
ROOT = Path(__file__).resolve().parents[2]
FILE_REQUEST = """
import asyncio
from engine import Engine, load_settings
async def main():
    async with Engine.open(load_settings(env_file=None)) as eng:
        await eng.as_agent("other-host").request("git_status", reason="from elsewhere")
asyncio.run(main())
"""


async def test_another_process_request_reaches_a_watching_console(
    pg_cluster: Cluster, workspace: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A poll would only happen every LISTEN_SAFETY_SEC: make it far longer than the wait
    # below, so only a notification can deliver the event in time.
    monkeypatch.setattr(postgres, "LISTEN_SAFETY_SEC", 3600.0)
    url = pg_cluster.fresh_database()
    settings = make_settings(workspace, db_path, DAENA_DB_URL=url)
    async with Engine.open(settings, watch=True) as eng:
        with eng.bus.subscription() as queue:
            listening = time.monotonic() + 30
            while eng.db._listener is None and time.monotonic() < listening:  # type: ignore[attr-defined]
                await asyncio.sleep(0.01)
            assert eng.db._listener is not None  # type: ignore[attr-defined]
            env = {
                **os.environ,
                "DAENA_DB_URL": url,
                "DAENA_DB_PATH": str(db_path),
                "EXECUTION_WORKSPACE_ROOT": str(workspace),
                "PYTHONPATH": str(ROOT),
            }
            done = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", FILE_REQUEST], env=env, cwd=ROOT, timeout=120
            )
            assert done.returncode == 0

            async def requested() -> ApprovalRequested:
                while True:
                    event = await queue.get()
                    if isinstance(event, ApprovalRequested):
                        return event

            event = await asyncio.wait_for(requested(), 60)
            assert event.requester.endswith("other-host")
