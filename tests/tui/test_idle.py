"""Idle is idle: nothing in an idle console redraws or reads on a short timer."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.cache import LRUCache
from textual.widgets import LoadingIndicator

import engine
from daena_tui.console.app import create_app
from daena_tui.console.screens.approvals import ApprovalsScreen
from daena_tui.console.status import STATUS_SAFETY_SEC, ConsoleStatus
from daena_tui.console.widgets.tables import CELL_CACHE, LINE_CACHE, RowTable
from daena_tui.console.widgets.virtual_table import ToolTable

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
        tools = app.screen.query_one("#tools-table", ToolTable)
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
        rows_when_probing.append(app.screen.query_one("#tools-table", ToolTable).row_count)
        real_start(self, interval)

    monkeypatch.setattr(engine.Engine, "start_probing", start_probing)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: bool(rows_when_probing), "node checks started")
        assert app.engine is not None
        tasks = [t.get_name() for t in app.engine._background]
        assert tasks.count("daena-node-probe") == 1
    assert rows_when_probing[0] > 0, "the probes started before the Tools rows were there"


async def test_the_expiry_watch_sleeps_while_nothing_can_expire(app, eng) -> None:
    """No request pending and no task running to a deadline: no per-second compare. A
    request made by another process starts it (its warning must still come in time)."""
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: app.expiry is not None and app.expiry.ticks >= 1, "loaded")
        watch = app.expiry
        assert watch is not None
        assert watch._timer is None, "the watch ticks with nothing to watch"
        await eng.set_tool_enabled("filesystem_write", True)
        await eng.as_agent("agent").run("filesystem_write", {"path": "f.txt", "content": "x"})
        await wait_for(pilot, lambda: bool(watch.pending), "the request watched")
        ticks = watch.ticks
        await wait_for(pilot, lambda: watch.ticks >= ticks + 2, "two more seconds compared")
        assert watch._timer is not None
        await eng.deny(watch.pending[0].id, "no")
        await wait_for(pilot, lambda: watch._timer is None, "asleep again once it is decided")


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        table = RowTable(id="rows")
        table.add_fit_column("n", key="n", width=6)
        for n in range(40):
            table.add_row(str(n), key=str(n))
        yield table


async def test_tables_keep_a_screenful_of_rendered_cells_not_textuals_ten_thousand() -> None:
    """A cell that changes each second (the countdown) is cached anew each time: the
    caches are bounded near what a screen shows (the inbox grew ~12 MB filling 10,000)."""
    app = OneTable()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#rows", RowTable)
        caches = {
            name: getattr(table, name)
            for name in ("_cell_render_cache", "_row_render_cache", "_line_cache")
        }
        assert all(isinstance(c, LRUCache) for c in caches.values()), "Textual renamed them"
        assert caches["_cell_render_cache"].maxsize == CELL_CACHE
        assert caches["_line_cache"].maxsize == caches["_row_render_cache"].maxsize == LINE_CACHE
        cells = caches["_cell_render_cache"]
        await wait_for(pilot, lambda: bool(cells), "the rows drawn through that cache")
        assert len(cells) <= CELL_CACHE


async def test_the_inbox_counts_down_only_while_requests_are_pending(settings, eng) -> None:
    """Once shown, the inbox stays mounted: with nothing pending it does not wake each
    second; a request starts its countdown, a decision on the last one stops it."""
    app = create_app(settings, probe_nodes=False, initial_section="approvals")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalsScreen), "the inbox")
        inbox = app.screen
        assert isinstance(inbox, ApprovalsScreen)
        await wait_for(pilot, lambda: app.status.ready, "loaded")
        assert inbox._countdown is None and inbox.ticks == 0
        await eng.set_tool_enabled("filesystem_write", True)
        await eng.as_agent("agent").run("filesystem_write", {"path": "f.txt", "content": "x"})
        await wait_for(pilot, lambda: bool(inbox.pending), "the request listed")
        await wait_for(pilot, lambda: inbox.ticks >= 2, "the countdown ticks")
        await eng.deny(next(iter(inbox.pending)), "no")
        await wait_for(pilot, lambda: inbox._countdown is None, "the countdown stopped")
