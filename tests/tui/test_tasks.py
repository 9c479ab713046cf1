"""Tasks on the real task service: playbooks from config/playbooks, a real git workspace."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

import engine
from daena_tui.console.app import DaenaApp
from daena_tui.console.screens.modals.prompt import PromptModal
from daena_tui.console.screens.tasks import TasksScreen

from .conftest import Recorded, started, text_of, wait_for


async def tasks_screen(pilot: Pilot[int]) -> TasksScreen:
    app = await started(pilot)
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen), "tasks screen")
    assert isinstance(app.screen, TasksScreen)
    return app.screen


async def fill_prompt(pilot: Pilot[int], **values: str) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, PromptModal), "task form")
    for name, value in values.items():
        app.screen.query_one(f"#prompt-{name}", Input).value = value
    await pilot.click("#submit")


async def test_inspect_repo_playbook_runs_to_completed(
    app: DaenaApp, eng: engine.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await tasks_screen(pilot)
        table = screen.query_one("#tasks-table", DataTable)
        await pilot.press("n")
        await fill_prompt(pilot, playbook="inspect_repo")
        await wait_for(pilot, lambda: table.row_count == 1, "task listed")
        [task_id] = [str(key.value) for key in table.rows]
        assert str(table.get_cell(task_id, "status")) == "pending"
        assert str(table.get_cell(task_id, "source")) == "playbook:inspect_repo"
        await pilot.press("g")
        await wait_for(
            pilot,
            lambda: screen.detail is not None and screen.detail.status == "completed",
            "task completed",
        )
        await wait_for(
            pilot, lambda: str(table.get_cell(task_id, "status")) == "completed", "list updated"
        )
        assert screen.detail is not None
        assert [s.status for s in screen.detail.steps] == ["succeeded"] * 3
        detail = text_of(screen.query_one("#task-detail", Static))
        assert "3/" in detail and "git_status" in detail and "git_diff" in detail
        await wait_for(
            pilot,
            lambda: f"Task {task_id}: completed — all 3 steps finished" in told.titled("Tasks"),
            "outcome notified",
        )
    done = await eng.tasks.get(task_id)  # as another process sees it
    assert done.status == engine.TaskStatus.COMPLETED
    assert [s.tool for s in done.steps] == ["git_status", "git_diff", "git_diff"]


async def test_playbook_variables_are_asked_for(app: DaenaApp, eng: engine.Engine) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await tasks_screen(pilot)
        await pilot.press("n")
        await fill_prompt(pilot, playbook="run_tests", goal="unit tests only")
        await wait_for(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, PromptModal) and pilot.app.screen.query("#prompt-path")
            ),
            "variables form",
        )
        field = pilot.app.screen.query_one("#prompt-path", Input)
        assert field.value == "tests"  # the playbook's default, filled in
        await fill_prompt(pilot, path="tests/unit")
        await wait_for(pilot, lambda: screen.detail is not None, "task created")
    [task] = await eng.tasks.list()
    assert (task.goal, task.variables, task.status) == (
        "unit tests only",
        {"path": "tests/unit"},
        engine.TaskStatus.PENDING,
    )
