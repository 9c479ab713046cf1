"""Idle is idle: nothing in an idle console redraws or reads on a short timer."""

from __future__ import annotations

from textual.widgets import DataTable, LoadingIndicator

import engine
from daena_tui.console.app import create_app
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


async def test_node_checks_start_once_the_first_section_is_drawn(settings, monkeypatch) -> None:
    """The first probe's HTTP client and connections wait for the Tools rows (what the
    operator waits for), then start: probes are still made, once per engine."""
    app = create_app(settings)  # the default engine, with its node checks
    rows_when_probing: list[int] = []
    real_start = engine.Engine.start_probing

    def start_probing(self: engine.Engine, interval: float) -> None:
        rows_when_probing.append(app.screen.query_one("#tools-table", DataTable).row_count)
        real_start(self, interval)

    monkeypatch.setattr(engine.Engine, "start_probing", start_probing)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: bool(rows_when_probing), "node checks started")
        assert app.engine is not None
        tasks = [t.get_name() for t in app.engine._background]
        assert tasks.count("daena-node-probe") == 1
    assert rows_when_probing[0] > 0, "the probes started before the Tools rows were there"
