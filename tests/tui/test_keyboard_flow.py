"""Keyboard flow without traps (issue 20): each defect a new operator met, as a pilot test.

Section keys are typed into a field that has the focus, alt+N switches from anywhere and
Escape leaves any field; a form gives its first field the focus; Enter never sends a
multi-field dialog from its first field; a dialog with bad input stays open with the
message under the field and what was typed; ctrl+q during a run asks, then records it
interrupted; a 10 MB patch does not stop the clock; toasts leave the arguments visible;
the theme is remembered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, TextArea
from textual.widgets._toast import Toast

import engine
from daena_tui.console.app import DaenaApp, QuitModal, create_app
from daena_tui.console.preferences import Preferences
from daena_tui.console.screens.approvals import ApprovalsScreen
from daena_tui.console.screens.modals.prompt import PromptModal
from daena_tui.console.widgets.args_view import ArgsView
from daena_tui.console.widgets.tables import RowTable
from daena_tui.console.widgets.virtual_table import ToolTable
from engine.tools.registry import ToolRegistry
from tests.engine.tasks.tasks_toolkit import make_registry

from .conftest import Recorded, settings_for, started, wait_for

SIZE = (80, 24)


def focused_id(app: DaenaApp) -> str | None:
    focused = app.screen.focused
    return None if focused is None else focused.id


async def run_form(pilot: Pilot[int], tool: str) -> None:
    """Tools → Enter on `tool` → the Run form, as an operator gets there."""
    app = await started(pilot)
    table = app.screen.query_one("#tools-table", ToolTable)
    await wait_for(pilot, lambda: tool in table.rows, "tool catalog")
    table.move_cursor(row=table.get_row_index(tool))
    await pilot.press("enter")
    await wait_for(pilot, lambda: getattr(app.screen, "tool", None) == tool, "form built")
    await wait_for(pilot, lambda: focused_id(app) is not None, "focus placed")


async def test_the_form_focuses_its_first_field_and_keys_go_into_it(app: DaenaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await run_form(pilot, "filesystem_read")
        assert focused_id(app) == "field-path"  # not the tool selector
        await pilot.press("n", "o", "t", "e", "s", "5", "question_mark")
        assert app.screen.query_one("#field-path", Input).value == "notes5?"
        assert app.current_mode == "run"  # "5" and "?" were typed, not taken as keys
        await pilot.press("enter")  # on to the next field; nothing runs
        assert focused_id(app) != "field-path"
        assert getattr(app.screen.query_one("#run-result"), "status", None) is None


async def test_escape_leaves_a_field_and_the_section_keys_work_again(app: DaenaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await run_form(pilot, "filesystem_read")
        await pilot.press("escape")
        assert focused_id(app) == "run-tool"  # the section's main widget
        await pilot.press("5")
        await wait_for(pilot, lambda: app.current_mode == "logs", "logs by its key")
        await pilot.press("slash")  # the filter bar
        assert isinstance(app.screen.focused, Input)
        await pilot.press("8")
        assert app.screen.query_one("#filter-tool", Input).value == "8"
        await pilot.press("escape")
        assert focused_id(app) == "logs-table"
        await pilot.press("8")
        await wait_for(pilot, lambda: app.current_mode == "policy", "policy by its key")
        field = app.screen.query_one("#max_steps_per_run", Input)
        field.focus()
        await pilot.press("escape")
        assert focused_id(app) == "approval_mode"


async def test_alt_section_keys_work_from_inside_any_field(app: DaenaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await run_form(pilot, "filesystem_write")
        app.screen.query_one("#field-content", TextArea).focus()
        await pilot.press("alt+5")
        await wait_for(pilot, lambda: app.current_mode == "logs", "logs from a text area")
        await pilot.press("slash", "alt+3")
        await wait_for(pilot, lambda: app.current_mode == "approvals", "inbox from a filter")
        await pilot.press("alt+8")
        await wait_for(pilot, lambda: app.current_mode == "policy", "policy")
        app.screen.query_one("#max_retries_per_tool", Input).focus()
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: app.current_mode == "run", "back to the run form")


async def test_enter_in_the_first_field_of_new_task_moves_on_and_never_submits(
    app: DaenaApp, eng: engine.Engine
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: app.screen.query("#tasks-table"), "tasks")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptModal), "new task dialog")
        # the first field has the focus (given once the dialog is mounted)
        await wait_for(pilot, lambda: focused_id(app) == "prompt-playbook", "first field focused")
        await pilot.press("enter")
        assert isinstance(app.screen, PromptModal)  # still open
        assert focused_id(app) == "prompt-goal"
        await pilot.press("enter")  # last field, nothing given: refused in place
        await wait_for(
            pilot, lambda: app.screen.query_one("#prompt-goal-error").display, "message shown"
        )
        assert isinstance(app.screen, PromptModal)
        assert "goal: give a playbook or a goal" in str(
            app.screen.query_one("#prompt-goal-error").render()
        )
        await pilot.press("escape")
    assert await eng.tasks.list() == []


async def test_add_node_with_a_bad_url_stays_open_with_the_message_and_the_input(
    app: DaenaApp, eng: engine.Engine
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("6")
        await wait_for(pilot, lambda: app.screen.query("#nodes-table"), "nodes")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptModal), "add node dialog")
        modal = app.screen
        modal.query_one("#prompt-name", Input).value = "lab-box"
        modal.query_one("#prompt-url", Input).value = "ftp://lab-box:21"
        await pilot.click("#submit")
        error = modal.query_one("#prompt-url-error")
        await wait_for(pilot, lambda: error.display, "message under the url field")
        assert app.screen is modal
        assert "url:" in str(error.render()) and "http" in str(error.render())
        assert modal.query_one("#prompt-name", Input).value == "lab-box"  # kept
        assert modal.query_one("#prompt-url", Input).value == "ftp://lab-box:21"
        assert focused_id(app) == "prompt-url"
        modal.query_one("#prompt-url", Input).value = "http://127.0.0.1:9"
        # Pressed, not clicked: a toast from another part of the app may lie over the button.
        modal.query_one("#submit", Button).press()
        await wait_for(pilot, lambda: not isinstance(app.screen, PromptModal), "saved")
    assert [n.name for n in await eng.nodes.list()].count("lab-box") == 1


# -- quitting during a run ------------------------------------------------------------------


@pytest.fixture
def slow_app(settings: engine.Settings) -> DaenaApp:
    """The console over an engine whose registry has `wait_medium`: a tool that blocks until
    a release file exists (tests/engine/tasks/tasks_toolkit.py)."""

    def factory(s: engine.Settings) -> Any:
        return engine.Engine.open(s, registry=make_registry())

    return create_app(settings, engine_factory=factory, probe_nodes=False)


async def audit_rows(settings: engine.Settings) -> list[dict[str, Any]]:
    registry: ToolRegistry = make_registry()
    async with engine.Engine.open(settings, registry=registry) as eng:
        rows = await eng.db.fetchall(
            "SELECT action, status, tool, trace_id, error FROM audit "
            "WHERE action IN ('run_start', 'run', 'run_interrupted') ORDER BY id"
        )
        return [dict(r) for r in rows]


async def test_ctrl_q_during_a_run_asks_then_records_it_interrupted(
    slow_app: DaenaApp, settings: engine.Settings, workspace: Path
) -> None:
    async with engine.Engine.open(settings) as eng:  # a medium-risk tool runs without asking
        await eng.update_config({"approval_mode": "auto"})
    app = slow_app
    async with app.run_test(size=SIZE) as pilot:
        await run_form(pilot, "wait_medium")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: (workspace / "started.marker").exists(), "run started")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitModal), "asked first")
        await pilot.press("escape")  # cancel: the console stays, the run goes on
        await wait_for(pilot, lambda: not isinstance(app.screen, QuitModal), "cancelled")
        assert app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitModal), "asked again")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: not app.is_running, "quit")
    rows = await audit_rows(settings)
    (start,) = [r for r in rows if r["action"] == "run_start"]
    outcomes = [r for r in rows if r["trace_id"] == start["trace_id"] and r is not start]
    assert [(r["action"], r["status"], r["tool"]) for r in outcomes] == [
        ("run_interrupted", "interrupted", "wait_medium")
    ]
    assert not (workspace / "trace.txt").exists()  # it never finished


async def test_ctrl_q_with_nothing_in_flight_quits_at_once(app: DaenaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, "quit")


# -- the inbox under load -------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024


def huge_patch() -> str:
    hunk = "".join(
        f"+line {n} of a very large generated file, padded to be long enough\n" for n in range(40)
    )
    body = "--- a/big.txt\n+++ b/big.txt\n@@ -0,0 +1,40 @@\n" + hunk
    return body * (TEN_MB // len(body) + 1)


async def pending_huge_patch(eng: engine.Engine) -> str:
    """A pending request with a 10 MB patch, as a hostile writer on the database can leave
    one (the tool's own limit is lower: the view must not rely on it)."""
    async with eng.db.transaction() as tx:
        request = await eng.approvals.create_request(
            tx,
            tool="apply_patch",
            canonical_args={"patch": huge_patch()},
            requester="agent",
            reason="a big one",
            task_id=None,
            trace_id="trace-huge",
        )
    return request.id


async def test_a_10_mb_patch_never_stops_the_countdown_or_a_section_switch(
    app: DaenaApp, eng: engine.Engine
) -> None:
    request_id = await pending_huge_patch(eng)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalsScreen), "inbox")
        screen = app.screen
        assert isinstance(screen, ApprovalsScreen)
        inbox = screen.query_one("#inbox", RowTable)
        await wait_for(pilot, lambda: request_id in inbox.rows, "request listed", timeout=60)
        view = screen.query_one("#approval-args", ArgsView)
        ticks = screen.ticks
        # While the rows of the patch are built, the loop goes on: the countdown ticks.
        await wait_for(pilot, lambda: screen.ticks >= ticks + 2, "two ticks", 60)
        await wait_for(pilot, lambda: view.row_count > 100_000, "patch shown", timeout=120)
        ticks = screen.ticks
        await pilot.press("5")
        await wait_for(pilot, lambda: app.current_mode == "logs", "switched to logs", 60)
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "approvals", "back", 60)
        await wait_for(pilot, lambda: screen.ticks >= ticks + 2, "still ticking", 60)
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: view.scroll_y > 0, "paged through the patch", 60)
        assert view.border_subtitle is not None and "PgDn" in str(view.border_subtitle)


async def test_a_toast_never_covers_the_arguments(
    app: DaenaApp, eng: engine.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Recorded(app, monkeypatch)
    await eng.set_tool_enabled("filesystem_write", True)
    await eng.run(
        engine.RunRequest(
            tool="filesystem_write", args={"path": "a.txt", "content": "x\n" * 30}, reason="one"
        )
    )
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await started(pilot)
        await pilot.press("3")
        view = app.screen.query_one("#approval-args", ArgsView)
        await wait_for(pilot, lambda: view.row_count > 0, "arguments shown")
        await eng.run(
            engine.RunRequest(tool="filesystem_write", args={"path": "b.txt", "content": "y"})
        )
        await wait_for(pilot, lambda: recorded.titled("Approval needed"), "toast")
        await wait_for(pilot, lambda: app.screen.query(Toast), "toast drawn")
        await pilot.pause()
        (message,) = recorded.titled("Approval needed")
        assert "Press alt+3" not in message  # already in the inbox
        for toast in app.screen.query(Toast):
            assert not toast.region.overlaps(view.region), (toast.region, view.region)


# -- themes ---------------------------------------------------------------------------------


async def test_the_theme_chosen_is_remembered_for_the_next_start(
    settings: engine.Settings, tmp_path: Path
) -> None:
    prefs = Preferences(tmp_path / "prefs" / "console.json")
    first = create_app(settings, probe_nodes=False, preferences=prefs)
    async with first.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert first.theme != "textual-light"
        first.theme = "textual-light"
        await pilot.pause()
    assert json.loads(prefs.path.read_text(encoding="utf-8"))["theme"] == "textual-light"
    second = create_app(settings, probe_nodes=False, preferences=Preferences(prefs.path))
    async with second.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert second.theme == "textual-light"
        assert not second.current_theme.dark


async def test_ctrl_q_during_a_task_step_records_the_step_run_interrupted(
    tmp_path: Path, workspace: Path
) -> None:
    """The task's step blocks in `wait_medium`; quitting (confirmed) records its run as
    interrupted at once: this process is alive, so no later reaper would have."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    steps = [{"tool": "wait_medium", "args": {"line": "w"}}]
    (playbooks / "slow.json").write_text(
        json.dumps({"name": "slow", "description": "blocks", "steps": steps}), encoding="utf-8"
    )
    settings = settings_for(
        tmp_path / "tasks.db",
        workspace,
        DAENA_PLAYBOOKS_DIR=str(playbooks),
        DAENA_VOICE_MUTED="true",
    )
    async with engine.Engine.open(settings, registry=make_registry()) as eng:
        await eng.update_config({"approval_mode": "auto"})
        task = await eng.tasks.create_from_playbook("slow", {})
    app = create_app(
        settings,
        engine_factory=lambda s: engine.Engine.open(s, registry=make_registry()),
        probe_nodes=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: app.screen.query("#tasks-table"), "tasks")
        table = app.screen.query_one("#tasks-table", RowTable)
        await wait_for(pilot, lambda: task.id in table.rows, "the task listed")
        await pilot.press("g")
        await wait_for(pilot, lambda: (workspace / "started.marker").exists(), "step started")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitModal), "asked first")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: not app.is_running, "quit")
    rows = await audit_rows(settings)
    assert [(r["action"], r["tool"]) for r in rows] == [
        ("run_start", "wait_medium"),
        ("run_interrupted", "wait_medium"),
    ]
    async with engine.Engine.open(settings, registry=make_registry()) as eng:
        assert (await eng.tasks.get(task.id)).status == engine.TaskStatus.INTERRUPTED
