"""Idle is idle: nothing in an idle console redraws or reads on a short timer."""

from __future__ import annotations

from textual.widgets import DataTable, LoadingIndicator

from daena_tui.console.status import STATUS_SAFETY_SEC, ConsoleStatus

from .conftest import started, wait_for


async def test_no_spinner_is_left_running_behind_the_sections(app) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await wait_for(
            pilot,
            lambda: (
                not any(s.query(LoadingIndicator) for s in app.screen_stack)
                and not any(
                    screen.query(LoadingIndicator)
                    for stack in app._screen_stacks.values()
                    for screen in stack
                )
            ),
            "the start-up spinner removed",
        )
        tools = app.screen.query_one("#tools-table", DataTable)
        await wait_for(pilot, lambda: tools.row_count > 0, "the first section loaded")


def test_the_header_reads_again_only_when_a_request_expires() -> None:
    assert ConsoleStatus(ready=True).next_refresh_sec == STATUS_SAFETY_SEC
    soon = ConsoleStatus(ready=True, pending=1, next_expiry_sec=3.0)
    assert 3.0 < soon.next_refresh_sec < 4.0
    later = ConsoleStatus(ready=True, pending=1, next_expiry_sec=STATUS_SAFETY_SEC * 10)
    assert later.next_refresh_sec == STATUS_SAFETY_SEC


async def test_the_header_counts_what_the_engine_counts(app, eng) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    agent = eng.as_agent("agent")
    for i in range(3):
        await agent.run("filesystem_write", {"path": f"f{i}.txt", "content": "x"})
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: app.status.pending == 3, "header count")
        assert await eng.approvals.pending_count() == 3
        assert app.status.next_expiry_sec is not None and app.status.next_expiry_sec > 0
        await eng.deny((await eng.pending_approvals())[0].id, "no")
        await wait_for(pilot, lambda: app.status.pending == 2, "header follows a decision")
