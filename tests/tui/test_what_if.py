"""The Policy section's what-if tester: a call decided under the policy now and under an
unsaved change, and nothing run, stored or audited (an agent-shaped call included)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

import engine
from daena_tui.console.app import DaenaApp
from daena_tui.console.widgets.what_if import WhatIf

from .conftest import started, text_of, wait_for

SIZE = (100, 40)


async def what_if(pilot: Pilot[int], app: DaenaApp) -> WhatIf:
    await started(pilot)
    await pilot.press("alt+8")
    await wait_for(pilot, lambda: app.current_mode == "policy", "policy")
    widget = app.screen.query_one(WhatIf)
    await wait_for(pilot, lambda: app.screen.query_one("#approval_mode") is not None, "loaded")
    return widget


async def fill(pilot: Pilot[int], widget: WhatIf, tool: str, args: str, changes: str) -> None:
    """Type into the fields as an operator does: Enter goes on to the next, then tests."""
    widget.query_one("#what-if-tool", Input).focus()
    for name, value in zip(("tool", "args", "changes"), (tool, args, changes), strict=True):
        await wait_for(
            pilot, lambda n=name: widget.app.focused is widget.query_one(f"#what-if-{n}"), name
        )  # type: ignore[misc]
        field = widget.query_one(f"#what-if-{name}", Input)
        field.value = ""
        if value:
            await pilot.press(*value)
        await pilot.press("enter")


async def test_a_writer_decided_now_and_under_a_change_and_nothing_runs(
    app: DaenaApp, eng: engine.Engine, workspace: Path
) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    records = await eng.audit.count()
    config = (await eng.config()).export()
    async with app.run_test(size=SIZE) as pilot:
        widget = await what_if(pilot, app)
        await fill(
            pilot,
            widget,
            "filesystem_write",
            '{"path": "whatif.txt", "content": "x"}',
            '{"approval_mode": "auto"}',
        )
        await wait_for(pilot, lambda: widget.tested == 1, "decided")
        now = text_of(widget.query_one("#what-if-now"))
        then = text_of(widget.query_one("#what-if-then"))
        assert "needs approval" in now and "decided by: risk_mode" in now
        assert then.startswith("with the change: runs") and "decided by: approval_off" in then
        # The same call outside the workspace: refused by confinement, under both.
        await fill(pilot, widget, "filesystem_write", '{"path": "../x", "content": "x"}', "")
        await wait_for(pilot, lambda: widget.tested == 2, "decided again")
        assert text_of(widget.query_one("#what-if-now")).startswith("under the policy now: refused")
        assert "no policy change" in text_of(widget.query_one("#what-if-then"))
    assert not (workspace / "whatif.txt").exists() and not (workspace.parent / "x").exists()
    assert await eng.audit.count() == records, "a what-if writes no audit record"
    assert (await eng.config()).export() == config, "the change was never saved"
    assert not await eng.approvals.list("pending")


async def test_bad_input_names_the_field_and_keeps_what_was_typed(
    app: DaenaApp, eng: engine.Engine
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        widget = await what_if(pilot, app)
        error = widget.query_one("#what-if-error")
        cases = [
            (("", "{}", ""), "tool: type the name"),
            (("filesystem_read", "[1, 2]", ""), "arguments: must be a JSON object"),
            (("filesystem_read", "{nope", ""), "arguments: not valid JSON"),
            (("filesystem_read", "{}", '{"approval_mode": "sometimes"}'), "approval_mode"),
            (("filesystem_read", "{}", '{"no_such_key": 1}'), "no_such_key"),
        ]
        for (tool, args, changes), needle in cases:
            await fill(pilot, widget, tool, args, changes)
            await wait_for(pilot, lambda n=needle: n in text_of(error), needle)  # type: ignore[misc]
            assert widget.query_one("#what-if-args", Input).value == args
        await fill(pilot, widget, "no_such_tool", "{}", "")
        await wait_for(pilot, lambda: widget.tested == 1, "an unknown tool is a decision")
        assert "refused" in text_of(widget.query_one("#what-if-now"))
