"""The console's capped lists say so, and the inbox's title and the header agree."""

from __future__ import annotations

from textual.widgets import DataTable, Label

from daena_tui.console.screens import approvals, tasks

from .conftest import started, text_of, wait_for


async def test_the_inbox_says_how_many_it_does_not_show(app, eng, monkeypatch) -> None:
    monkeypatch.setattr(approvals, "INBOX_PAGE", 3)
    await eng.set_tool_enabled("filesystem_write", True)
    agent = eng.as_agent("agent")
    for i in range(5):
        await agent.run("filesystem_write", {"path": f"f{i}.txt", "content": "x"})
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("3")
        inbox = app.screen.query_one("#inbox", DataTable)
        title = app.screen.query_one("#approvals-title", Label)
        await wait_for(pilot, lambda: inbox.row_count == 3, "first page")
        await wait_for(pilot, lambda: "3 of 5 pending" in text_of(title), "title says so")
        assert "m more" in text_of(title)
        assert app.status.pending == 5  # the header counts them all
        await pilot.press("m")
        await wait_for(pilot, lambda: inbox.row_count == 5, "the rest")
        await wait_for(pilot, lambda: "Inbox — 5 pending" in text_of(title), "title")
        assert "m more" not in text_of(title) and app.status.pending == 5


async def test_the_tasks_section_says_how_many_it_does_not_show(app, eng, monkeypatch) -> None:
    monkeypatch.setattr(tasks, "TASK_PAGE", 2)
    for i in range(3):
        await eng.tasks.create_from_goal(f"goal {i}")
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        await pilot.press("4")
        table = app.screen.query_one("#tasks-table", DataTable)
        title = app.screen.query_one("#tasks-title", Label)
        await wait_for(pilot, lambda: table.row_count == 2, "first page")
        await wait_for(pilot, lambda: "2 of 3" in text_of(title), "title says so")
        assert title.display
        await pilot.press("m")
        await wait_for(pilot, lambda: table.row_count == 3, "the rest")
        await wait_for(pilot, lambda: not title.display, "nothing left unshown")
