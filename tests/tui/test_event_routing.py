"""The bridge sends each engine event only to the App and the sections that act on it, and a
burst of events is one header read and one section reload. What the operator must still
see: every change another process makes (a section that was not sent an event shows it
once it is shown; the header and the inbox count the same after a burst)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable, Label

import engine
from daena_tui.console.bridge import wants

from .conftest import started, text_of, wait_for


async def ask(eng: engine.Engine, n: int) -> str:
    result = await eng.as_agent("agent").run(
        "filesystem_write", {"path": f"f{n}.txt", "content": str(n)}
    )
    assert result.approval_request_id is not None
    return result.approval_request_id


def run_finished(audit_id: int = 1) -> engine.RunFinished:
    return engine.RunFinished(audit_id, "git_status", "ok", "trace")


def appended(action: str = "tool_run") -> engine.AuditAppended:
    return engine.AuditAppended(1, action, "git_status", "ok")


def requested(n: int) -> engine.ApprovalRequested:
    return engine.ApprovalRequested(f"r{n}", "filesystem_write", "agent", 1e12)


async def test_an_agents_runs_reach_neither_the_app_nor_the_inbox(app, eng) -> None:
    """An agent's runs (most events) change neither the header nor the inbox: no message
    for them; the history (h) shows runs, so it is sent them while it is shown."""
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        assert not wants(app, run_finished()) and not wants(app, appended())
        assert wants(app, appended("mcp_pin_changed"))  # the pin alert
        assert wants(app, requested(1))
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "approvals", "approvals")
        inbox = app.screen
        await wait_for(pilot, lambda: inbox.query("#inbox"), "inbox composed")
        assert not wants(inbox, run_finished()) and not wants(inbox, appended())
        assert wants(inbox, requested(1))
        await pilot.press("h")
        await pilot.pause()
        assert wants(inbox, run_finished())
        await pilot.press("5")
        await wait_for(pilot, lambda: app.current_mode == "logs", "logs")
        assert wants(app.screen, appended()) and not wants(app.screen, run_finished())


async def test_a_section_shows_what_it_was_not_sent_once_shown(app, eng) -> None:
    """Events a section does not act on are not sent to it; switching to it shows them."""
    await eng.set_tool_enabled("filesystem_write", True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "approvals", "approvals")
        for _ in range(3):  # on the Approvals section: runs and audit records go unsent
            await eng.run(engine.RunRequest(tool="git_status"))
        newest = await eng.record(engine.AuditEntry(actor="agent", action="note", status="ok"))
        request = await ask(eng, 1)  # after the runs: once it is shown, they were handled
        inbox = app.screen.query_one("#inbox", DataTable)
        await wait_for(pilot, lambda: request in inbox.rows, "the request in the inbox")
        await pilot.press("5")
        await wait_for(pilot, lambda: app.current_mode == "logs", "logs")
        logs = app.screen.query_one("#logs-table")
        await wait_for(pilot, lambda: str(newest) in logs.row_keys(), "the record in Logs")
        second = await ask(eng, 2)  # on Logs: the Approvals section is not on the stack
        await wait_for(pilot, lambda: app.status.pending == 2, "the header counts it")
        await pilot.press("3")
        inbox = app.screen.query_one("#inbox", DataTable)
        await wait_for(pilot, lambda: second in inbox.rows, "the second request shown")
        assert inbox.row_count == app.status.pending == 2


async def test_header_and_inbox_agree_after_bursts(app, eng) -> None:
    """Another process asks 25 times, then decides 10: the header and the inbox count the
    same, and the engine's count, after each burst."""
    await eng.set_tool_enabled("filesystem_write", True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "approvals", "approvals")
        ids = [await ask(eng, n) for n in range(25)]
        inbox = app.screen.query_one("#inbox", DataTable)
        title = app.screen.query_one("#approvals-title", Label)
        await wait_for(pilot, lambda: inbox.row_count == 25 and app.status.pending == 25, "25")
        assert "25 pending" in text_of(title)
        for request_id in ids[:10]:
            await eng.deny(request_id, "burst")
        await wait_for(pilot, lambda: inbox.row_count == 15 and app.status.pending == 15, "15")
        assert await eng.approvals.pending_count() == 15
        assert "15 pending" in text_of(title)
        assert set(inbox.rows) == set(ids[10:])


async def test_a_burst_is_one_header_read_and_one_reload(
    app, eng, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events queued together (one read of the events feed) start one header read and one
    reload of the section, after the last of them, not one worker per event."""
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "approvals", "approvals")
        screen = app.screen
        await pilot.pause()
        reads: list[int] = []
        reloads: list[int] = []
        read, reload = app.refresh_status, screen.reload

        def counted_read(*args: Any) -> Any:
            reads.append(1)
            return read(*args)

        def counted_reload() -> None:
            reloads.append(1)
            reload()

        monkeypatch.setattr(app, "refresh_status", counted_read)
        monkeypatch.setattr(screen, "reload", counted_reload)
        for n in range(20):  # as the bridge does with one read's events, back to back
            app._bridge.dispatch(requested(n))
        await wait_for(pilot, lambda: reads and reloads, "the burst handled")
        await pilot.pause()
        assert (len(reads), len(reloads)) == (1, 1)
        app._bridge.dispatch(requested(99))  # a later event: read and reload again
        await wait_for(pilot, lambda: len(reads) == 2 and len(reloads) == 2, "next event")
