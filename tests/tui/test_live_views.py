"""Live views at constant cost per event: the Logs tail and the approvals inbox add the new
rows and drop the old ones by key; they never clear the table and re-add what it shows."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable

import engine
from daena_tui.console.screens import logs

from .conftest import started, wait_for


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


async def test_a_burst_adds_its_rows_and_re_adds_none(app, eng, monkeypatch) -> None:
    for i in range(12):
        await note(eng, i)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("5")
        table = app.screen.query_one("#logs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 12, "first page")
        before = shown(table)
        calls = Calls(table, monkeypatch)
        burst = [await note(eng, 100 + i) for i in range(9)]
        newest = str(burst[-1])
        await wait_for(pilot, lambda: shown(table)[:1] == [newest], "burst tailed")
        assert sorted(calls.added, key=int) == [str(i) for i in burst]  # each new row once
        assert calls.clears == 0
        assert shown(table) == [str(i) for i in reversed(burst)] + before


async def test_the_tail_keeps_order_and_its_bound(app, eng, monkeypatch) -> None:
    monkeypatch.setattr(logs, "TAIL_WINDOW", 15)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("5")
        screen = app.screen
        table = screen.query_one("#logs-table", DataTable)
        await wait_for(pilot, lambda: isinstance(screen, logs.LogsScreen) and screen.live, "load")
        written = []
        for round_ in range(4):
            written += [await note(eng, round_ * 10 + i) for i in range(10)]
            newest = str(written[-1])
            await wait_for(pilot, lambda n=newest: shown(table)[:1] == [n], f"round {round_}")
            ids = [int(k) for k in shown(table)]
            assert ids == sorted(ids, reverse=True)  # newest first, no duplicates
            assert len(ids) <= 15
        assert [int(k) for k in shown(table)] == sorted(written, reverse=True)[:15]
        assert [str(r.id) for r in screen.records] == shown(table)  # list and table agree
        full = getattr(table, "_full", {})  # RowTable's full-row text per row: bounded too
        assert set(full) <= set(shown(table))


async def test_the_cursor_stays_on_its_row_while_rows_arrive(app, eng) -> None:
    for i in range(10):
        await note(eng, i)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("5")
        table = app.screen.query_one("#logs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 10, "first page")
        table.focus()
        await pilot.press("down", "down", "down")
        chosen = shown(table)[table.cursor_row]
        newest = str(await note(eng, 99))
        await wait_for(pilot, lambda: shown(table)[:1] == [newest], "tailed")
        assert shown(table)[table.cursor_row] == chosen


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
