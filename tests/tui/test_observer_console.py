"""The observer's console (`daena --observer`, what `daena web` runs) over its read-only
database connection: every section opens with nothing but reads, the inbox shows which rule
decides a request, and approving is refused with the request still pending."""

from __future__ import annotations

from pathlib import Path

import engine
from daena_tui.console.app import create_app
from daena_tui.console.sections import SECTIONS
from daena_tui.console.widgets.decision_rule import DecisionRule

from .conftest import Recorded, started, wait_for


async def test_the_observer_reads_every_section_and_decides_nothing(
    eng: engine.Engine, settings: engine.Settings, workspace: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    await eng.set_tool_enabled("filesystem_write", True)
    request = await eng.as_agent("bot").request(
        "filesystem_write", {"path": "x.txt", "content": "APPROVED\n"}
    )
    audit_before = await eng.audit.last_id()
    app = create_app(settings, observer=True, initial_section="approvals")
    recorded = Recorded(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        assert app.eng.db.shown  # the engine is the observer's view
        await wait_for(pilot, lambda: app.screen.query(DecisionRule), "the inbox composed")
        rule = app.screen.query_one(DecisionRule)
        await wait_for(pilot, lambda: rule.shown.startswith("decided by: risk_mode"), "rule")
        assert "decided by: risk_mode" in str(rule.border_title)  # on screen at 80x24
        await pilot.press("a")  # the dialog opens on Cancel
        await wait_for(pilot, lambda: app.screen is not rule.screen, "the approve dialog")
        await pilot.press("shift+tab", "enter")  # Approve
        await wait_for(pilot, lambda: recorded.titled("Observer"), "the refusal")
        for section in SECTIONS:
            await pilot.press(f"alt+{section.key}")
            await wait_for(pilot, lambda s=section: app.current_mode == s.mode, section.mode)
            await pilot.pause(0.3)
    errors = [n for n in recorded.notes if n[2] == "error" and n[0] != "Observer"]
    assert errors == []
    assert (await eng.approvals.get(request.id)).status == "pending"
    assert await eng.audit.last_id() == audit_before
    assert not (workspace / "x.txt").exists()
