"""Live views at constant cost per event: the Logs tail draws only the new rows (a virtual
table) and the approvals inbox adds and drops rows by key; neither clears its table and
re-adds what it shows."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable, Input

import engine
from daena_tui.console.screens import logs
from daena_tui.console.screens.modals.audit_detail import AuditDetailModal
from daena_tui.console.widgets.virtual_table import AuditTable
from engine import audit_search

from .conftest import started, text_of, wait_for


class Calls:
    """Counts a table's add_row and clear calls (what a full re-fill would show)."""

    def __init__(self, table: DataTable[Any], monkeypatch: pytest.MonkeyPatch) -> None:
        self.added: list[str] = []
        self.clears = 0
        add_row, clear = table.add_row, table.clear

        def counted_add(*cells: Any, key: str | None = None, **kw: Any) -> Any:
            self.added.append(str(key))
            return add_row(*cells, key=key, **kw)

        def counted_clear(*args: Any, **kw: Any) -> Any:
            self.clears += 1
            return clear(*args, **kw)

        monkeypatch.setattr(table, "add_row", counted_add)
        monkeypatch.setattr(table, "clear", counted_clear)


def shown(table: DataTable[Any]) -> list[str]:
    """Row keys in the order they are shown (`table.rows` is insertion order)."""
    return [str(row.key.value) for row in table.ordered_rows]


async def note(eng: engine.Engine, i: int) -> int:
    return await eng.record(
        engine.AuditEntry(actor="agent", action="note", status="ok", error=f"n{i}")
    )


async def test_a_burst_draws_its_rows_and_redraws_none(app, eng) -> None:
    """The tail's cost is the new rows: a burst of three records on a screen of forty rows
    draws the three (and the row the cursor left at each tail), not the screen."""
    for i in range(60):
        await note(eng, i)
    async with app.run_test(size=(100, 50)) as pilot:
        await started(pilot)
        await pilot.press("5")
        table = app.screen.query_one("#logs-table", AuditTable)
        await wait_for(pilot, lambda: table.row_count >= 60, "first page")
        await pilot.pause()
        before = table.row_keys()
        drawn = table.renders
        burst = [await note(eng, 100 + i) for i in range(3)]
        newest = str(burst[-1])
        await wait_for(pilot, lambda: table.row_keys()[:1] == [newest], "burst tailed")
        await pilot.pause()
        assert table.row_keys() == [str(i) for i in reversed(burst)] + before
        on_screen = table.scrollable_content_region.height - 1
        assert on_screen > 30
        # Each new row once, and per tail (one or more rows) the row the cursor left: at most
        # twice the new rows however many are on screen (a re-fill draws all forty).
        assert table.renders - drawn <= 2 * len(burst) < on_screen
        drawn = table.renders
        table.focus()
        await pilot.press("down")
        await pilot.pause()
        assert table.renders - drawn <= 2 + 1  # the rows the cursor left and reached (+focus)


async def test_the_tail_keeps_order_and_its_bound(app, eng, monkeypatch) -> None:
    monkeypatch.setattr(logs, "TAIL_WINDOW", 15)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("5")
        screen = app.screen
        table = screen.query_one("#logs-table", AuditTable)
        await wait_for(pilot, lambda: isinstance(screen, logs.LogsScreen), "load")
        written = []
        for round_ in range(4):
            written += [await note(eng, round_ * 10 + i) for i in range(10)]
            newest = str(written[-1])
            await wait_for(pilot, lambda n=newest: table.row_keys()[:1] == [n], f"round {round_}")
            ids = [int(k) for k in table.row_keys()]
            assert ids == sorted(ids, reverse=True)  # newest first, no duplicates
            assert len(ids) <= 15
        assert [int(k) for k in table.row_keys()] == sorted(written, reverse=True)[:15]
        assert [str(r.id) for r in screen.records] == table.row_keys()  # list and table agree
        # What the table keeps per row (cells, drawn lines, stripes) is bounded too.
        kept = set(table.row_keys())
        assert set(table._cells) == set(table._stripe) == kept and set(table._lines) <= kept


async def test_the_cursor_stays_on_its_row_while_rows_arrive(app, eng) -> None:
    for i in range(10):
        await note(eng, i)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("5")
        table = app.screen.query_one("#logs-table", AuditTable)
        await wait_for(pilot, lambda: table.row_count >= 10, "first page")
        table.focus()
        await pilot.press("down", "down", "down")
        chosen = table.row_keys()[table.cursor_row]
        newest = str(await note(eng, 99))
        await wait_for(pilot, lambda: table.row_keys()[:1] == [newest], "tailed")
        assert table.row_keys()[table.cursor_row] == chosen


async def test_the_inbox_adds_and_drops_only_the_rows_that_changed(app, eng, monkeypatch) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    agent = eng.as_agent("agent")

    async def ask(i: int) -> str:
        result = await agent.run("filesystem_write", {"path": f"f{i}.txt", "content": "x"})
        assert result.approval_request_id is not None
        return result.approval_request_id

    first = [await ask(i) for i in range(3)]
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("3")
        inbox = app.screen.query_one("#inbox", DataTable)
        await wait_for(pilot, lambda: inbox.row_count == 3, "inbox")
        calls = Calls(inbox, monkeypatch)
        fourth = await ask(3)
        await wait_for(pilot, lambda: inbox.row_count == 4, "new request")
        assert calls.added == [fourth] and calls.clears == 0
        await eng.deny(first[1], "not now")
        await wait_for(pilot, lambda: inbox.row_count == 3, "decided request dropped")
        assert shown(inbox) == [first[0], first[2], fourth]
        assert calls.added == [fourth] and calls.clears == 0
        screen = app.screen
        reloads = []
        reload = screen.reload
        monkeypatch.setattr(screen, "reload", lambda: (reloads.append(1), reload()))
        for _ in range(5):  # runs that are not requests do not reload the inbox
            await eng.run(engine.RunRequest(tool="git_status"))
        fifth = await ask(4)  # after the runs' events: once it is shown, they were handled
        await wait_for(pilot, lambda: fifth in inbox.rows, "request after the runs")
        assert len(reloads) == 1  # the request's, none for the five runs
        assert calls.added == [fourth, fifth] and calls.clears == 0


async def test_a_short_text_says_how_far_it_searched_and_m_searches_older(
    app, eng, monkeypatch
) -> None:
    """A one- or two-character text scans a bounded slice per page: the Logs screen says
    where the search stopped and `m` carries on, never a silently partial list."""
    monkeypatch.setattr(audit_search, "SHORT_SCAN", 10)
    old_match = await eng.record(
        engine.AuditEntry(actor="agent", action="note", status="ok", error="zq old")
    )
    for i in range(25):
        await note(eng, i)
    new_match = await eng.record(
        engine.AuditEntry(actor="agent", action="note", status="ok", error="zq new")
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await started(pilot)
        await pilot.press("5")
        screen = app.screen
        table = screen.query_one("#logs-table", AuditTable)
        info = screen.query_one("#logs-info")
        await wait_for(pilot, lambda: table.row_count > 20, "first page")
        screen.query_one("#filter-text", Input).focus()
        await pilot.press("z", "q", "enter")
        await wait_for(pilot, lambda: table.row_keys() == [str(new_match)], "the newest slice")
        said = text_of(info)
        assert isinstance(screen, logs.LogsScreen) and screen.scanned_to is not None
        assert f"in records #{screen.scanned_to:,} and newer" in said
        assert "m searches older" in said
        table.focus()
        for _ in range(5):  # each m: the next slice of ten, until the old match is reached
            if str(old_match) in table.row_keys():
                break
            before = screen.scanned_to
            await pilot.press("m")
            await wait_for(pilot, lambda b=before: screen.scanned_to != b, "the next slice")
        assert table.row_keys() == [str(new_match), str(old_match)]
        await wait_for(pilot, lambda: screen.scanned_to is None, "the scan reached the oldest")
        assert "searches older" not in text_of(info) and "2 records shown" in text_of(info)


async def test_a_click_selects_a_row_and_a_second_click_opens_it(app, eng) -> None:
    for i in range(10):
        await note(eng, i)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("5")
        table = app.screen.query_one("#logs-table", AuditTable)
        await wait_for(pilot, lambda: table.row_count >= 10, "first page")
        await pilot.pause()
        # y 0: the pane's title rule, 1: the header, 2: the first row
        await pilot.click("#logs-table", offset=(3, 4))
        assert table.cursor_row == 2 and not isinstance(app.screen, AuditDetailModal)
        await pilot.click("#logs-table", offset=(3, 4))
        await wait_for(pilot, lambda: isinstance(app.screen, AuditDetailModal), "detail")
        assert str(app.screen.record.id) == table.row_keys()[2]
