"""Red team, promises 4 and 6: the console's event routing (console/bridge.py `wants`, each
receiver's `wants_event`, one coalesced reload and header read per burst) loses nothing an
agent can bury under a burst of its own events.

The agent, on another engine over the same database (its events reach the console through
the events table), interleaves hundreds of runs with requests, while the operator holds
the decision dialog open or is on another section; the operator's own engine decides and
one upstream pin change lands in the middle. Once the burst is over the inbox shows
exactly the pending requests the database holds, the header's count is theirs, the
decided ones are gone and the pin alert fired.
"""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

import engine
from daena_tui.console.app import PIN_CHANGED
from daena_tui.console.screens.modals.decision import ApproveModal

from .conftest import Recorded, started, wait_for

pytestmark = pytest.mark.no_postgres("the console's event feed over one SQLite file")


async def pending_ids(eng: engine.Engine) -> set[str]:
    return {r.id for r in await eng.approvals.list("pending", 500)}


async def burst(eng: engine.Engine, first: int) -> None:
    """Runs, requests and decisions interleaved, and one pin change in the middle."""
    agent = eng.as_agent("agent")
    asked: list[str] = []
    for i in range(240):
        await agent.run("git_status", {})
        if i % 12 == 0:
            result = await agent.run(
                "filesystem_write", {"path": f"f{first + i}.txt", "content": "x"}
            )
            assert result.approval_request_id is not None
            asked.append(result.approval_request_id)
        if i % 36 == 30:
            await eng.deny(asked.pop(0), "not now")  # decided while the burst goes on
        if i == 120:
            await eng.record(
                engine.AuditEntry(
                    actor="pinning", action=PIN_CHANGED, tool="clock.now", status="refused"
                )
            )


@pytest.mark.parametrize("where", ["dialog", "other section"])
async def test_a_burst_hides_no_request_and_no_alert(
    app, eng, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    agent = eng.as_agent("agent")
    first = await agent.run("filesystem_write", {"path": "first.txt", "content": "x"})
    recorded = Recorded(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("3")
        inbox = app.screen.query_one("#inbox", DataTable)
        await wait_for(pilot, lambda: first.approval_request_id in inbox.rows, "inbox")
        if where == "dialog":
            inbox.focus()
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, ApproveModal), "dialog")
        else:
            await pilot.press("1")
            await wait_for(pilot, lambda: app.current_mode == "tools", "tools")
        await burst(eng, 0)
        expected = await pending_ids(eng)
        assert len(expected) > 10
        if where == "dialog":
            await pilot.press("escape")  # cancelled: nothing decided
            await wait_for(pilot, lambda: not isinstance(app.screen, ApproveModal), "closed")
        else:
            await wait_for(pilot, lambda: app.status.pending == len(expected), "header")
            await pilot.press("3")
        await wait_for(pilot, lambda: {str(k.value) for k in inbox.rows} == expected, "inbox")
        await wait_for(pilot, lambda: app.status.pending == len(expected), "header count")
        assert await pending_ids(eng) == expected
        await wait_for(pilot, lambda: recorded.titled("MCP tool changed"), "pin alert")
        assert len(recorded.titled("MCP tool changed")) == 1
