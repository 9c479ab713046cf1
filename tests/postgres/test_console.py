"""The console (daena_tui, driven by Textual's Pilot) on a PostgreSQL engine: it opens, lists
the tools, shows a request another process filed (it arrives by LISTEN/NOTIFY: the safety
poll is set far beyond the test), and approving it runs it once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable

import engine
from daena_tui.console.app import create_app
from daena_tui.console.screens.modals.decision import ApproveModal
from daena_tui.console.widgets.virtual_table import ToolTable
from engine.storage import postgres
from tests.postgres.cluster import Cluster
from tests.tui.conftest import started, text_of, wait_for

pytestmark = pytest.mark.no_postgres  # makes the database the console and the agent share
ROOT = Path(__file__).resolve().parents[2]
AGENT = """
import asyncio
import engine
async def main():
    async with engine.Engine.open(engine.load_settings(env_file=None)) as eng:
        pending = await eng.as_agent("other-host").request(
            "filesystem_write", {"path": "from-afar.txt", "content": "hi\\n"}, reason="afar"
        )
        print(pending.id)
asyncio.run(main())
"""


def console_settings(url: str, tmp_path: Path, workspace: Path) -> engine.Settings:
    return engine.load_settings(
        env_file=None,
        DAENA_DB_URL=url,
        DAENA_DB_PATH=str(tmp_path / "state" / "daena.db"),
        EXECUTION_WORKSPACE_ROOT=str(workspace),
        DAENA_OPERATOR="operator@test",
        OLLAMA_BASE_URL="http://127.0.0.1:9",
        WINDOWS_NODE_URL="http://127.0.0.1:9",
        MODELS_ROOT=str(tmp_path / "models"),
        DAENA_VOICE_MUTED="true",
    )


async def test_the_console_on_postgresql_shows_and_approves_another_process_request(
    pg_cluster: Cluster, tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "LISTEN_SAFETY_SEC", 3600.0)  # only a NOTIFY is in time
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    url = pg_cluster.fresh_database()
    settings = console_settings(url, tmp_path, workspace)
    async with engine.Engine.open(settings) as eng:
        await eng.set_tool_enabled("filesystem_write", True)
    app = create_app(settings, probe_nodes=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        assert app.engine is not None and app.engine.db.dialect == "postgresql"
        tools = app.screen.query_one("#tools-table", ToolTable)
        listed = {"git_status", "filesystem_write"}
        await wait_for(pilot, lambda: listed <= set(tools.rows), "the tools listed")
        db = app.engine.db
        await wait_for(pilot, lambda: db._listener is not None, "LISTEN")  # type: ignore[attr-defined]
        await pilot.press("3")
        inbox = app.screen.query_one("#inbox", DataTable)
        env = {
            **os.environ,
            "DAENA_DB_URL": url,
            "DAENA_DB_PATH": str(tmp_path / "agent" / "daena.db"),
            "EXECUTION_WORKSPACE_ROOT": str(workspace),
            "PYTHONPATH": str(ROOT),
        }
        agent = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", AGENT],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert agent.returncode == 0, agent.stderr
        request_id = agent.stdout.strip().splitlines()[-1]
        await wait_for(pilot, lambda: request_id in inbox.rows, "the other process's request")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ApproveModal), "approve dialog")
        modal = app.screen
        await pilot.press("left")  # from Cancel to Approve
        await wait_for(pilot, lambda: "APPROVE" in text_of(modal.query_one("#enter-does")), "ok")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (workspace / "from-afar.txt").exists(), "the approved run")
        await wait_for(pilot, lambda: request_id not in inbox.rows, "the inbox emptied")
    async with engine.Engine.open(settings) as eng:
        decided = await eng.approvals.get(request_id)
        assert decided.status == "approved" and decided.run_status == "ok"
        assert decided.requester.endswith("other-host")
        runs = await eng.audit.page(
            engine.AuditFilter(tool="filesystem_write", action="run", status="ok")
        )
        assert [r.approval_id for r in runs] == [request_id]
    assert (workspace / "from-afar.txt").read_text() == "hi\n"
