"""Why: the inbox detail says which rule decides the selected request (pending: the engine's
explanation of its exact call; finished: the rule stored with its run), and the Logs detail
says which rule decided a run or a refusal ("not recorded" for records from before)."""

from __future__ import annotations

from pathlib import Path

import engine
from daena_tui.console.app import DaenaApp
from daena_tui.console.screens.modals.audit_detail import AuditDetailModal
from daena_tui.console.widgets.decision_rule import DecisionRule
from daena_tui.console.widgets.tables import RowTable
from daena_tui.console.widgets.virtual_table import AuditTable

from .conftest import OPERATOR, started, text_of, wait_for

SIZE = (100, 30)


async def test_the_inbox_says_which_rule_decides_pending_and_finished_requests(
    app: DaenaApp, eng: engine.Engine, workspace: Path
) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    first = await eng.run(
        engine.RunRequest(tool="filesystem_write", args={"path": "a.txt", "content": "x"})
    )
    done = await eng.run(
        engine.RunRequest(tool="filesystem_write", args={"path": "b.txt", "content": "y"})
    )
    assert first.approval_request_id and done.approval_request_id
    await eng.approve(done.approval_request_id)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("alt+3")
        rule = app.screen.query_one(DecisionRule)
        await wait_for(pilot, lambda: rule.shown.startswith("decided by: risk_mode"), "pending")
        assert "high risk under require_approval" in rule.shown
        await eng.update_config({"lockdown": True})  # the rule an approval would meet now
        await wait_for(pilot, lambda: "decided by: lockdown" in rule.shown, "after lockdown")
        await pilot.press("h")
        history = app.screen.query_one("#history", RowTable)
        await wait_for(pilot, lambda: done.approval_request_id in history.rows, "history row")
        history.move_cursor(row=history.get_row_index(done.approval_request_id))
        await wait_for(
            pilot,
            lambda: (
                rule.shown == f"decided by: operator_approval — approved by {OPERATOR}: "
                "runs once, as stored"
            ),
            "the finished run's rule",
        )
    assert (await eng.approvals.get(first.approval_request_id)).status == "pending"
    assert not (workspace / "a.txt").exists()


async def test_the_logs_detail_shows_the_rule_or_not_recorded(
    app: DaenaApp, eng: engine.Engine
) -> None:
    refused = await eng.run(
        engine.RunRequest(tool="filesystem_write", args={"path": "a.txt", "content": "x"})
    )
    old = await eng.run(engine.RunRequest(tool="git_status"))
    await eng.db.write(
        lambda tx: tx.execute("DELETE FROM audit_rules WHERE audit_id = ?", (old.audit_id,))
    )
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("alt+5")
        table = app.screen.query_one("#logs-table", AuditTable)
        for record_id, needle in (
            (refused.audit_id, "decided by  disabled — tool: filesystem_write is disabled"),
            (old.audit_id, "decided by  not recorded"),
        ):
            await wait_for(pilot, lambda r=record_id: str(r) in table.rows, "the record's row")  # type: ignore[misc]
            table.focus()
            table.move_cursor(row=table.get_row_index(str(record_id)))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, AuditDetailModal), "detail")
            shown = app.screen.query_one("#audit-record")
            await wait_for(pilot, lambda s=shown, n=needle: n in text_of(s), needle)  # type: ignore[misc]
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, AuditDetailModal), "closed")
