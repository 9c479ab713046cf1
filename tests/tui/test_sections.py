"""Pilot tests per section, against a real tmp database and a real tmp git workspace."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from textual.app import App
from textual.command import CommandList
from textual.widgets import DataTable, Input, Select, Switch, TextArea

import engine
from daena_tui.console.app import create_app
from daena_tui.console.screens.modals.confirm import ConfirmModal
from daena_tui.console.screens.modals.decision import ApproveModal, DenyModal
from daena_tui.console.widgets.args_view import ArgsView
from daena_tui.console.widgets.result_view import ResultView
from daena_tui.console.widgets.virtual_table import AuditTable, ToolTable

from .conftest import started, text_of, wait_for


def column(table: DataTable[object] | AuditTable, key: str) -> list[str]:
    return [str(table.get_cell(row, key)) for row in table.rows]


def best_hit(app: App[int]) -> str | None:
    """The highlighted entry of the open command palette (what Enter would run)."""
    lists = app.screen.query(CommandList)
    if not lists:
        return None
    hits = lists.first()
    if hits.highlighted is None or not hits.option_count:
        return None
    prompt = hits.get_option_at_index(hits.highlighted).prompt  # the command, then its help
    return str(getattr(prompt, "plain", prompt)).splitlines()[0]


async def test_toggle_tool_is_persisted(app, settings) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        table = app.screen.query_one("#tools-table", ToolTable)
        await wait_for(pilot, lambda: table.row_count > 0, "tool catalog")
        assert "filesystem_write" in table.rows
        table.move_cursor(row=table.get_row_index("filesystem_write"))
        await pilot.press("space")
        await wait_for(
            pilot,
            lambda: "on" in str(table.get_cell("filesystem_write", "enabled")),
            "shown enabled",
        )
    async with engine.Engine.open(settings) as eng:
        config = await eng.config()
        assert config.enabled("filesystem_write", False) is True
        records = await eng.audit.page(engine.AuditFilter(action="config_change"))
        assert records and records[0].actor == settings.daena_operator


async def test_a_tool_enabled_by_another_process_shows_without_a_key(app, settings) -> None:
    """The Tools list reloads on the configuration change another process writes."""
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        table = app.screen.query_one("#tools-table", ToolTable)
        await wait_for(pilot, lambda: "filesystem_write" in table.rows, "tool catalog")
        assert "off" in str(table.get_cell("filesystem_write", "enabled"))
        async with engine.Engine.open(settings) as other:  # the CLI, in effect
            await other.set_tool_enabled("filesystem_write", True)
        await wait_for(
            pilot,
            lambda: "on" in str(table.get_cell("filesystem_write", "enabled")),
            "shown enabled",
        )


async def test_run_git_status_from_its_form(app, workspace: Path) -> None:
    (workspace / "new.txt").write_text("x\n", encoding="utf-8")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        table = app.screen.query_one("#tools-table", ToolTable)
        await wait_for(pilot, lambda: table.row_count > 0, "tool catalog")
        table.move_cursor(row=table.get_row_index("git_status"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "run", "run form shown")
        screen = app.screen
        await wait_for(pilot, lambda: getattr(screen, "tool", None) == "git_status", "form built")
        await pilot.press("ctrl+r")
        view = screen.query_one(ResultView)
        await wait_for(pilot, lambda: view.status is not None, "result shown")
        assert view.status == "ok"
        output = text_of(view.query_one("#result-output"))
        assert "new.txt" in output


async def test_approve_from_inbox_runs_exactly_once(app, eng, workspace: Path) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    pending = await eng.run(
        engine.RunRequest(
            tool="filesystem_write",
            args={"path": "approved.txt", "content": "hello from the agent\n"},
            requester="agent",
            reason="write a greeting",
        )
    )
    assert pending.status == "pending_approval"
    request_id = pending.approval_request_id
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("3")
        inbox = app.screen.query_one("#inbox", DataTable)
        await wait_for(pilot, lambda: request_id in inbox.rows, "request in the inbox")
        view = app.screen.query_one("#approval-args", ArgsView)
        await wait_for(pilot, lambda: view.row_count > 0, "arguments shown")
        assert any("hello from the agent" in row for row in view.plain())
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ApproveModal), "approve modal")
        assert app.screen.focused is not None and app.screen.focused.id == "cancel"
        await pilot.click("#approve")
        await wait_for(pilot, lambda: (workspace / "approved.txt").exists(), "file written")
        await wait_for(pilot, lambda: inbox.row_count == 0, "inbox emptied")
        await pilot.press("a")  # nothing selected any more: cannot approve twice
        await pilot.pause()
        assert not isinstance(app.screen, ApproveModal)
    assert (workspace / "approved.txt").read_text(encoding="utf-8") == "hello from the agent\n"
    runs = await eng.audit.page(
        engine.AuditFilter(tool="filesystem_write", action="run", status="ok")
    )
    assert len(runs) == 1 and runs[0].approval_id == request_id
    decided = await eng.approvals.get(request_id)
    assert decided.status == "approved" and decided.run_status == "ok"


async def test_deny_from_inbox_never_runs(app, eng, workspace: Path) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    pending = await eng.run(
        engine.RunRequest(
            tool="filesystem_write",
            args={"path": "denied.txt", "content": "no\n"},
            requester="agent",
        )
    )
    request_id = pending.approval_request_id
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("3")
        inbox = app.screen.query_one("#inbox", DataTable)
        await wait_for(pilot, lambda: request_id in inbox.rows, "request in the inbox")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DenyModal), "deny modal")
        await pilot.click("#deny")  # no reason yet: refused, the modal stays
        await pilot.pause()
        assert isinstance(app.screen, DenyModal)
        app.screen.query_one("#reason", Input).value = "not today"
        deny = app.screen.query_one("#deny")
        await wait_for(pilot, lambda: not deny.has_class("-active"), "button ready again")
        await pilot.click("#deny")
        await wait_for(pilot, lambda: inbox.row_count == 0, "inbox emptied")
        await pilot.press("h")
        history = app.screen.query_one("#history", DataTable)
        await wait_for(pilot, lambda: request_id in history.rows, "request in the history")
        assert "denied" in column(history, "status")
    assert not (workspace / "denied.txt").exists()
    decided = await eng.approvals.get(request_id)
    assert decided.status == "denied" and decided.decision_reason == "not today"
    assert decided.run_status is None
    runs = await eng.audit.page(
        engine.AuditFilter(tool="filesystem_write", status="ok", action="run")
    )
    assert runs == []


async def test_request_from_another_process_appears_without_a_key(app, settings) -> None:
    base = [sys.executable, "-m", "daena_tui", "--db", str(settings.daena_db_path)]
    base += ["--workspace", str(settings.execution_workspace_root), "--operator", "cli@test"]
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("3")
        inbox = app.screen.query_one("#inbox", DataTable)
        for extra in (
            ["tools", "enable", "filesystem_write"],
            [
                "run",
                "filesystem_write",
                "--arg",
                "path=x",
                "--arg",
                "content=y",
                "--requester",
                "agent",
            ],
        ):
            proc = await asyncio.create_subprocess_exec(*base, *extra)
            assert await proc.wait() in (0, 3)
        await wait_for(pilot, lambda: inbox.row_count == 1, "request from the other process")
        assert column(inbox, "tool") == ["filesystem_write"]
        await wait_for(pilot, lambda: app.status.pending == 1, "header count")


async def test_filter_logs(app, eng) -> None:
    await eng.run(engine.RunRequest(tool="git_status"))
    await eng.run(engine.RunRequest(tool="filesystem_read", args={"path": "README.md"}))
    await eng.run(engine.RunRequest(tool="filesystem_write", args={"path": "a", "content": "b"}))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("5")
        table = app.screen.query_one("#logs-table", AuditTable)
        await wait_for(pilot, lambda: table.row_count >= 4, "audit rows")
        tool_filter = app.screen.query_one("#filter-tool", Input)
        tool_filter.focus()
        await pilot.press(*"git_status", "enter")
        await wait_for(pilot, lambda: set(column(table, "tool")) == {"git_status"}, "tool filter")
        tool_filter.value = ""
        app.screen.query_one("#filter-status", Select).value = "refused"
        await wait_for(
            pilot, lambda: column(table, "tool") == ["filesystem_write"], "status filter"
        )
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: table.row_count >= 4, "filters cleared")
        await eng.run(engine.RunRequest(tool="git_status"))  # live tail from "another" engine
        await wait_for(pilot, lambda: table.row_count >= 5, "live tail")


async def test_lockdown_from_policy_blocks_runs(app, eng) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("8")
        switch = app.screen.query_one("#lockdown", Switch)
        await wait_for(pilot, lambda: getattr(app.screen, "config", None) is not None, "policy")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "confirmation")
        assert app.screen.focused is not None and app.screen.focused.id == "cancel"
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: app.status.lockdown, "header shows lockdown")
        assert switch.value is True
        await app.open_run_form("git_status")  # what the palette's "Run git_status" does
        screen = app.screen
        await wait_for(pilot, lambda: getattr(screen, "tool", None) == "git_status", "form built")
        await pilot.press("ctrl+r")
        view = screen.query_one(ResultView)
        await wait_for(pilot, lambda: view.status is not None, "result shown")
        assert view.status == "refused"
    assert (await eng.config()).lockdown is True
    refused = await eng.run(engine.RunRequest(tool="git_status"))
    assert refused.status == "refused" and "lockdown" in (refused.error or "")


async def test_logs_are_paged_not_loaded_whole(app, eng) -> None:
    for i in range(230):
        await eng.record(
            engine.AuditEntry(actor="agent", action="note", status="ok", error=f"n{i}")
        )
    # What the first two pages must be: nothing else writes while the test runs (the app
    # fixture does not probe nodes), so these are exactly what the console should load.
    newest = [str(r.id) for r in await eng.audit.page(engine.AuditFilter(), limit=200)]
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("5")
        table = app.screen.query_one("#logs-table", AuditTable)
        await wait_for(pilot, lambda: table.row_count > 0, "first page")
        assert column(table, "id") == newest[:100]  # one page, newest first
        table.focus()
        await pilot.press("ctrl+end")  # cursor to the last loaded row: the next page is fetched
        await wait_for(pilot, lambda: table.row_count > 100, "second page")
        assert column(table, "id") == newest


async def test_palette_and_help_reach_sections(app) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Go to Policy")
        await wait_for(pilot, lambda: best_hit(app) == "Go to Policy", "palette search")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "policy", "palette switched section")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "help shown")
        assert "Verify chain" in text_of(app.screen.query_one("#help-body Static"))
        await pilot.press("escape")
        await wait_for(
            pilot,
            lambda: app.current_mode == "policy" and type(app.screen).__name__ == "PolicyScreen",
            "help closed",
        )


async def test_operator_grant_and_run_of_a_risky_tool(app, eng, workspace: Path) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await app.open_run_form("filesystem_write")
        screen = app.screen
        await wait_for(pilot, lambda: screen.query("#field-content"), "form built")
        screen.query_one("#field-path", Input).value = "granted.txt"
        screen.query_one("#field-content", TextArea).text = "by the operator\n"
        await pilot.press("ctrl+r")  # without a grant it would wait for another operator
        view = screen.query_one(ResultView)
        await wait_for(pilot, lambda: view.status == "pending_approval", "needs approval")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "confirmation")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: view.status == "ok", "granted run")
    assert (workspace / "granted.txt").read_text(encoding="utf-8") == "by the operator\n"


async def test_node_health_is_checked_at_start(settings) -> None:
    app = create_app(settings)  # the default: nodes are health-checked at start, then every 60 s
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("6")
        table = app.screen.query_one("#nodes-table", DataTable)
        await wait_for(
            pilot,
            lambda: (
                "windows" in table.rows
                and str(table.get_cell("windows", "status")) == "unreachable"
            ),
            "the windows node probed without a key press",
        )
    async with engine.Engine.open(settings) as eng:
        records = await eng.audit.page(engine.AuditFilter(action="node_health"))
        assert records and records[0].status == "unreachable"


async def test_a_section_first_shown_after_a_theme_change_wears_the_new_theme(app) -> None:
    """Sections skip Textual's re-parse of all CSS on their first show (screens/base.py):
    what they are built with must already be the current theme's styles."""

    def looks() -> list[object]:
        return [
            (w.styles.color, w.styles.background)
            for w in app.screen.query("#logs-info, #logs-table, #filter-text, Footer")
        ]

    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        dark = app.theme
        app.theme = "textual-light" if dark != "textual-light" else "textual-dark"
        await pilot.pause()
        await pilot.press("5")
        await wait_for(pilot, lambda: bool(app.screen.query("#logs-info")), "logs screen")
        await pilot.pause()
        built = looks()
        app.refresh_css()
        await pilot.pause()
        assert looks() == built
        app.theme = dark
        await pilot.pause()
        assert looks() != built
