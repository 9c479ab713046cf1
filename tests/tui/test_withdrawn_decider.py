"""Red team, promise 5: the inbox never credits the operator with an agent's own decision.

An MCP client that cancels its call withdraws its request (engine/mcp_sessions.py): the
request becomes `denied`, decided by the agent itself. The detail's "decided by" line said
"denied by the operator" for it, so an agent could make the operator believe that they (or a
colleague) had looked at the request and turned it down.
"""

from __future__ import annotations

import engine
from daena_tui.console.app import DaenaApp
from daena_tui.console.widgets.decision_rule import DecisionRule
from daena_tui.console.widgets.tables import RowTable
from engine.mcp_sessions import McpSessions

from .conftest import OPERATOR, started, wait_for

SIZE = (100, 30)


async def test_a_withdrawn_request_names_the_agent_not_the_operator(
    app: DaenaApp, eng: engine.Engine
) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    agent = eng.as_agent("mallory")
    withdrawn = await agent.request("filesystem_write", {"path": "a.txt", "content": "x"})
    denied = await agent.request("filesystem_write", {"path": "b.txt", "content": "y"})
    sessions = McpSessions(eng.db, eng.audit, eng.approvals)
    assert await sessions.withdraw(withdrawn.id, agent.identity, "the MCP client cancelled")
    await eng.deny(denied.id, "not now")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("alt+3")
        await pilot.press("h")
        history = app.screen.query_one("#history", RowTable)
        rule = app.screen.query_one(DecisionRule)
        for request_id, expected in (
            (withdrawn.id, "decided by: withdrawn by its requester, agent:mallory"),
            (denied.id, f"decided by: denied by {OPERATOR}"),
        ):
            await wait_for(pilot, lambda r=request_id: r in history.rows, "history row")  # type: ignore[misc]
            history.move_cursor(row=history.get_row_index(request_id))
            await wait_for(pilot, lambda e=expected: rule.shown == e, expected)  # type: ignore[misc]
            assert "operator" not in rule.shown or request_id == denied.id
