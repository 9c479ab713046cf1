"""Promise 6: a denial can never approve, and an approval slip never denies.

`d` opens a deny-only modal, `a` an approve-only one. Each test presses a real key sequence
through a Textual Pilot and then reads the engine's state (the request's status, the audit
log, the workspace): a deny flow ends denied or still pending, never approved, and the file
the request would write is never there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import DataTable

import engine
from daena_tui.console.app import DaenaApp
from daena_tui.console.screens.approvals import ApprovalsScreen
from daena_tui.console.screens.modals.decision import ApproveModal, DenyModal

from .conftest import started, text_of, wait_for

TARGET = "pwned.txt"

# Keys pressed after `d`. Whatever they are — Enter on an empty reason, walking the buttons,
# typing the approve key or "y" — the request ends denied (with what was typed as the reason)
# or still pending.
DENY_SEQUENCES = {
    "enter": ["enter"],
    "tab tab enter": ["tab", "tab", "enter"],
    "tab enter": ["tab", "enter"],
    "right enter": ["right", "enter"],
    "left enter": ["left", "enter"],
    "tab right enter": ["tab", "right", "enter"],
    "tab left enter": ["tab", "left", "enter"],
    "shift+tab enter": ["shift+tab", "enter"],
    "space": ["space"],
    "space enter": ["space", "enter"],
    "a": ["a"],
    "a enter": ["a", "enter"],
    "y": ["y"],
    "y enter": ["y", "enter"],
    "d again": ["d", "enter"],
    "escape enter": ["escape", "enter"],
    "escape a enter": ["escape", "a", "enter"],
    "escape then y": ["escape", "y", "enter"],
    "reason then enter": ["n", "o", "enter"],
    "reason tab tab enter": ["n", "o", "tab", "tab", "enter"],
    "typed ahead: d a enter": ["a", "enter", "enter"],
    "palette enter": ["ctrl+p", "enter"],
    "palette approve": ["ctrl+p", *"approvals: approve", "enter", "enter"],
}


async def pending_write(eng: engine.Engine) -> str:
    await eng.set_tool_enabled("filesystem_write", True)
    pending = await eng.run(
        engine.RunRequest(
            tool="filesystem_write",
            args={"path": TARGET, "content": "owned\n"},
            requester="agent",
            reason="press Enter to deny",
        )
    )
    assert pending.approval_request_id is not None
    return pending.approval_request_id


async def inbox_with(pilot: Pilot[int], request_id: str) -> tuple[DaenaApp, ApprovalsScreen]:
    app = await started(pilot)
    await pilot.press("3")
    approvals = app.screen
    assert isinstance(approvals, ApprovalsScreen)
    inbox = approvals.query_one("#inbox", DataTable)
    await wait_for(pilot, lambda: request_id in inbox.rows, "request in the inbox")
    return app, approvals


async def settle(pilot: Pilot[int], app: DaenaApp, approvals: ApprovalsScreen) -> None:
    """Close whatever the keys left open (a modal, another section the palette went to) and
    let a decision in flight reach the engine."""
    for _ in range(6):
        if app.screen is approvals:
            break
        await pilot.press("escape" if isinstance(app.screen, ModalScreen) else "3")
    await wait_for(
        pilot,
        lambda: app.screen is approvals and not approvals.deciding,
        "back in the inbox, no decision in flight",
    )


async def ran(eng: engine.Engine) -> list[engine.AuditRecord]:
    """The runs of the tool that happened (the request itself is a `pending_approval` run)."""
    return await eng.audit.page(
        engine.AuditFilter(tool="filesystem_write", action="run", status="ok")
    )


@pytest.mark.parametrize("name", sorted(DENY_SEQUENCES))
async def test_no_key_sequence_in_the_deny_flow_approves(
    name: str, app: DaenaApp, eng: engine.Engine, workspace: Path
) -> None:
    request_id = await pending_write(eng)
    async with app.run_test(size=(80, 24)) as pilot:
        app, approvals = await inbox_with(pilot, request_id)
        await pilot.press("d", *DENY_SEQUENCES[name])
        await settle(pilot, app, approvals)
    request = await eng.approvals.get(request_id)
    assert request.status in ("pending", "denied"), f"{name}: {request.status}"
    assert request.decided_by is None or request.status == "denied"
    assert not (workspace / TARGET).exists()
    assert await ran(eng) == []
    assert request.run_status is None


async def test_enter_in_the_deny_modal_denies_with_the_reason(
    app: DaenaApp, eng: engine.Engine, workspace: Path
) -> None:
    request_id = await pending_write(eng)
    async with app.run_test(size=(80, 24)) as pilot:
        app, approvals = await inbox_with(pilot, request_id)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DenyModal), "deny modal")
        modal = app.screen
        assert modal.focused is not None and modal.focused.id == "reason"
        assert not modal.query("#approve"), "the deny modal has no Approve button"
        assert text_of(modal.query_one("#enter-does")) == "Enter now: deny"
        await pilot.press("enter")  # an empty reason is refused in place
        await pilot.pause()
        assert app.screen is modal
        assert "a denial needs a reason" in text_of(modal.query_one("#decision-error"))
        await pilot.press(*"looks like exfiltration", "enter")
        await settle(pilot, app, approvals)
    request = await eng.approvals.get(request_id)
    assert request.status == "denied" and request.decision_reason == "looks like exfiltration"
    assert not (workspace / TARGET).exists() and await ran(eng) == []


APPROVE_SLIPS = {
    "enter": ["enter"],
    "space": ["space"],
    "d": ["d", "enter"],
    "escape": ["escape"],
    "note then enter": ["n", "o", "enter"],
    "note enter enter": ["n", "o", "enter", "enter"],
}


@pytest.mark.parametrize("name", sorted(APPROVE_SLIPS))
async def test_the_approve_modal_starts_on_cancel_and_never_denies(
    name: str, app: DaenaApp, eng: engine.Engine, workspace: Path
) -> None:
    request_id = await pending_write(eng)
    async with app.run_test(size=(80, 24)) as pilot:
        app, approvals = await inbox_with(pilot, request_id)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ApproveModal), "approve modal")
        modal = app.screen
        assert modal.focused is not None and modal.focused.id == "cancel"
        assert not modal.query("#deny"), "the approve modal has no Deny button"
        assert text_of(modal.query_one("#enter-does")) == "Enter now: cancel"
        await pilot.press(*APPROVE_SLIPS[name])
        await settle(pilot, app, approvals)
    request = await eng.approvals.get(request_id)
    assert request.status == "pending", f"{name}: {request.status}"
    assert not (workspace / TARGET).exists() and await ran(eng) == []


async def test_approving_takes_a_deliberate_move_to_the_approve_button(
    app: DaenaApp, eng: engine.Engine, workspace: Path
) -> None:
    request_id = await pending_write(eng)
    async with app.run_test(size=(80, 24)) as pilot:
        app, approvals = await inbox_with(pilot, request_id)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ApproveModal), "approve modal")
        await pilot.press("left")  # from Cancel to Approve, which the modal says...
        modal = app.screen
        await wait_for(
            pilot,
            lambda: "APPROVE" in text_of(modal.query_one("#enter-does")),
            "Enter now approves",
        )
        await pilot.press("enter")  # ...then press it
        await settle(pilot, app, approvals)
        await wait_for(pilot, lambda: (workspace / TARGET).exists(), "approved run")
    request = await eng.approvals.get(request_id)
    assert request.status == "approved" and request.run_status == "ok"
    assert len(await ran(eng)) == 1
