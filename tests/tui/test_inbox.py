"""The inbox reads at a glance: time left counts down in the detail and in the decision
dialogs, the history is newest first, and URL-like form fields are one line."""

from __future__ import annotations

import engine
from daena_tui.console.app import DaenaApp, create_app
from daena_tui.console.clock import Clock
from daena_tui.console.screens.modals.decision import ApproveModal, DenyModal
from daena_tui.console.widgets.args_view import ArgsView
from daena_tui.console.widgets.schema_form import fields_from_schema
from daena_tui.console.widgets.tables import RowTable

from .conftest import started, text_of, wait_for

SIZE = (80, 24)


class Ticking:
    """A clock the test moves: the console reads it, so the countdown follows it."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


async def request(eng: engine.Engine, path: str) -> str:
    await eng.set_tool_enabled("filesystem_write", True)
    result = await eng.run(
        engine.RunRequest(tool="filesystem_write", args={"path": path, "content": "x"})
    )
    assert result.approval_request_id is not None
    return result.approval_request_id


async def test_time_left_counts_down_in_the_detail_and_in_the_dialogs(
    settings: engine.Settings, eng: engine.Engine
) -> None:
    request_id = await request(eng, "a.txt")
    pending = await eng.approvals.get(request_id)
    clock = Ticking(pending.expires_at - 600)  # ten minutes left
    app: DaenaApp = create_app(settings, probe_nodes=False, clock=Clock(clock))
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("3")
        facts = app.screen.query_one("#approval-facts")
        await wait_for(pilot, lambda: "expires in 10:00" in text_of(facts), "10:00 left")
        clock.now += 61
        await wait_for(pilot, lambda: "expires in 8:59" in text_of(facts), "the detail ticks")
        for key, modal in (("a", ApproveModal), ("d", DenyModal)):
            await pilot.press(key)
            await wait_for(pilot, lambda m=modal: isinstance(app.screen, m), f"{key} dialog")
            shown = app.screen.query_one("#decision-facts")
            clock.now += 60
            await wait_for(pilot, lambda s=shown: "expires in 7:" in text_of(s), "dialog ticks")
            await pilot.press("escape")
            await wait_for(pilot, lambda m=modal: not isinstance(app.screen, m), "closed")
            clock.now -= 60
    assert (await eng.approvals.get(request_id)).status == "pending"


async def test_history_is_newest_first(app: DaenaApp, eng: engine.Engine) -> None:
    first = await request(eng, "first.txt")
    second = await request(eng, "second.txt")
    await eng.deny(first, "first decided")
    await eng.deny(second, "second decided")  # decided later: on top
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("3", "h")
        history = app.screen.query_one("#history", RowTable)
        await wait_for(pilot, lambda: history.row_count >= 2, "history rows")
        keys = [str(row.key.value) for row in history.ordered_rows]
        assert keys.index(second) < keys.index(first)


def test_url_path_and_name_fields_are_one_line_however_long() -> None:
    schema = {
        "properties": {
            "url": {"type": "string", "maxLength": 2048},
            "node_url": {"type": "string", "maxLength": 4096},
            "path": {"type": "string", "maxLength": 4096},
            "notes": {"type": "string", "maxLength": 4096},
            "content": {"type": "string"},
        }
    }
    kinds = {f.name: f.kind for f in fields_from_schema(schema)}
    assert kinds == {
        "url": "text",
        "node_url": "text",
        "path": "text",
        "notes": "long",
        "content": "long",
    }


async def test_wide_rows_say_so_and_scroll_sideways_without_a_focus_change(
    app: DaenaApp, eng: engine.Engine
) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    wide = "x = '" + "A" * 300 + "'  # the end of the line\n"
    await eng.run(
        engine.RunRequest(tool="filesystem_write", args={"path": "w.py", "content": wide})
    )
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("3")
        view = app.screen.query_one("#approval-args", ArgsView)
        await wait_for(pilot, lambda: view.row_count > 0, "arguments shown")
        await pilot.pause()
        assert "</> sideways" in str(view.border_subtitle)
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: view.scroll_x > 0, "scrolled sideways")
        assert app.screen.focused is not None and app.screen.focused.id == "inbox"
