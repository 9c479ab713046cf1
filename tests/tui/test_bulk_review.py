"""Bulk approve-once: marked requests reviewed in one list, decided in one action, each
still run exactly once with its own arguments, and never a standing grant."""

from __future__ import annotations

from pathlib import Path

from textual import events

import engine
from daena_tui.console.app import DaenaApp
from daena_tui.console.screens.modals.bulk_review import BulkReviewModal
from daena_tui.console.widgets.args_view import ArgsView
from daena_tui.console.widgets.tables import RowTable

from .conftest import OPERATOR, started, text_of, wait_for

SIZE = (100, 30)


async def requests(eng: engine.Engine, n: int, prefix: str = "bulk") -> list[str]:
    await eng.set_tool_enabled("filesystem_write", True)
    ids = []
    for i in range(n):
        result = await eng.run(
            engine.RunRequest(
                tool="filesystem_write",
                args={"path": f"{prefix}{i}.txt", "content": f"content of {i}\n"},
                requester="agent-b",
            )
        )
        assert result.approval_request_id is not None
        ids.append(result.approval_request_id)
    return ids


async def mark_all(app: DaenaApp, pilot: object, n: int) -> None:
    inbox = app.screen.query_one("#inbox", RowTable)
    await wait_for(pilot, lambda: inbox.row_count == n, f"{n} pending rows")  # type: ignore[arg-type]
    inbox.focus()
    for _ in range(n):
        await pilot.press("space", "down")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: len(app.screen.marks) == n, "all marked")  # type: ignore[arg-type, attr-defined]


async def test_five_marked_requests_approved_in_one_action_each_run_once_no_grant(
    app: DaenaApp, eng: engine.Engine, workspace: Path
) -> None:
    ids = await requests(eng, 5)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("alt+3")
        await mark_all(app, pilot, 5)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkReviewModal), "review")
        modal = app.screen
        assert isinstance(modal, BulkReviewModal)
        for i in range(5):  # each one's own exact arguments are in the list, in order
            view = modal.query_one(f"#bulk-args-{i}", ArgsView)
            await wait_for(pilot, lambda v=view: v.loaded >= 1, "arguments drawn")  # type: ignore[misc]
            shown = "\n".join(view.plain())
            assert f"bulk{i}.txt" in shown and f"content of {i}" in shown, shown
        assert [r.id for r in modal.requests] == ids
        assert app.screen.focused is not None and app.screen.focused.id == "bulk-cancel"
        await pilot.press("left", "left")  # Cancel -> Deny all -> Approve all
        assert app.screen.focused is not None and app.screen.focused.id == "bulk-approve"
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: all((workspace / f"bulk{i}.txt").exists() for i in range(5)),
            "every file written",
        )
        await wait_for(pilot, lambda: not app.screen.marks, "marks cleared")  # type: ignore[attr-defined]
    for i in range(5):
        assert (workspace / f"bulk{i}.txt").read_text() == f"content of {i}\n"
    for request_id in ids:
        r = await eng.approvals.get(request_id)
        assert (r.status, r.decided_by, r.run_status) == ("approved", OPERATOR, "ok")
        rows = await eng.db.fetchall(
            "SELECT action, actor FROM audit WHERE approval_id = ? AND status != ? ORDER BY id",
            (request_id, "pending_approval"),  # the request itself is a "run" record too
        )
        actions = [row[0] for row in rows]
        assert actions == ["approval_approved", "run_start", "run"], actions
        assert actions.count("run") == 1 and actions.count("run_start") == 1, actions
        assert [row[1] for row in rows if row[0] == "approval_approved"] == [OPERATOR]
    decisions = await eng.db.fetchall(
        "SELECT COUNT(*) FROM audit WHERE action = 'approval_approved' AND actor = ?", (OPERATOR,)
    )
    assert decisions[0][0] == 5
    grants = await eng.db.fetchall("SELECT COUNT(*) FROM grants")
    assert grants[0][0] == 0, "a bulk approval never mints a grant"


async def test_bulk_deny_needs_a_reason_and_denies_each_marked_one(
    app: DaenaApp, eng: engine.Engine, workspace: Path
) -> None:
    ids = await requests(eng, 3, "deny")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("alt+3")
        inbox = app.screen.query_one("#inbox", RowTable)
        await wait_for(pilot, lambda: inbox.row_count == 3, "3 pending rows")
        inbox.focus()
        await pilot.press("space", "down", "space")  # two of the three
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkReviewModal), "review")
        await pilot.press("left")  # Cancel -> Deny all
        await pilot.press("enter")  # no reason yet: refused in place, still open
        modal = app.screen
        assert isinstance(modal, BulkReviewModal)
        assert "reason" in text_of(modal.query_one("#bulk-error"))
        await pilot.press(*"not today", "enter")  # Enter in the field only goes to Cancel
        assert isinstance(app.screen, BulkReviewModal)
        await pilot.press("left")
        assert app.screen.focused is not None and app.screen.focused.id == "bulk-deny"
        await pilot.press("enter")
        await wait_for(pilot, lambda: inbox.row_count == 1, "two left the inbox")
    statuses = [(await eng.approvals.get(i)).status for i in ids]
    assert sorted(statuses) == ["denied", "denied", "pending"]
    assert not list(workspace.glob("deny*.txt"))


async def test_a_request_decided_elsewhere_meanwhile_is_named_and_the_rest_still_run(
    app: DaenaApp, eng: engine.Engine, workspace: Path
) -> None:
    ids = await requests(eng, 2, "race")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("alt+3")
        await mark_all(app, pilot, 2)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkReviewModal), "review")
        await eng.deny(ids[0], "another operator said no")  # while the review is open
        await pilot.press("left", "left", "enter")
        await wait_for(pilot, lambda: (workspace / "race1.txt").exists(), "the other ran")
    assert not (workspace / "race0.txt").exists()
    assert (await eng.approvals.get(ids[0])).status == "denied"


async def test_keys_typed_ahead_act_on_the_row_under_the_cursor(
    app: DaenaApp, eng: engine.Engine
) -> None:
    """A terminal delivers `up space down space` in one read (tmux send-keys did): each key
    must act on the row the cursor is on when it runs, not on the one a RowHighlighted
    message still to be handled names (that marked the wrong row, then unmarked it)."""
    ids = await requests(eng, 3)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("alt+3")
        inbox = app.screen.query_one("#inbox", RowTable)
        await wait_for(pilot, lambda: inbox.row_count == 3, "3 pending rows")
        inbox.focus()
        inbox.move_cursor(row=2)
        await pilot.pause()
        for key, char in [("up", None), ("up", None), ("space", " "), ("down", None)]:
            app.post_message(events.Key(key, char))  # queued at once, no pause between them
        app.post_message(events.Key("space", " "))
        await wait_for(pilot, lambda: len(app.screen.marks) == 2, "two marks")  # type: ignore[attr-defined]
        assert app.screen.marks.ids == ids[:2]  # type: ignore[attr-defined]
        app.post_message(events.Key("b", "b"))
        await wait_for(pilot, lambda: isinstance(app.screen, BulkReviewModal), "the review")
        assert [r.id for r in app.screen.requests] == ids[:2]  # type: ignore[attr-defined]
        modal = app.screen
        await wait_for(pilot, lambda: getattr(modal.focused, "id", None) == "bulk-cancel", "Cancel")
        for _ in range(2):  # Cancel -> Deny all -> Approve all, both keys queued at once
            app.post_message(events.Key("left", None))
        await pilot.pause()
        assert getattr(modal.focused, "id", None) == "bulk-approve"
