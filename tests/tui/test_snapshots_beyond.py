"""SVG snapshots of the views issue 20 adds ("beyond every anchor", part 1) at 80x24 and
120x40 on the fixed snapshot data: the bulk review of the two pending requests, and the
Policy section's what-if tester with a decision now and under an unsaved change.

Regenerate after an intended change with
`pytest tests/tui/test_snapshots_beyond.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from daena_tui.console.screens.modals.bulk_review import BulkReviewModal
from daena_tui.console.widgets.args_view import ArgsView
from daena_tui.console.widgets.what_if import WhatIf

from .conftest import wait_for
from .snapshot_data import snapshot_app

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


async def bulk_review(pilot: Pilot[int]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query("#inbox"), "inbox")
    inbox = app.screen.query_one("#inbox")
    await wait_for(pilot, lambda: getattr(inbox, "row_count", 0) >= 2, "two pending")
    await wait_for(pilot, lambda: app.status.ready, "header status")
    inbox.focus()
    await pilot.press("space", "down", "space", "b")
    await wait_for(pilot, lambda: isinstance(app.screen, BulkReviewModal), "review")
    for view in app.screen.query(ArgsView):
        await wait_for(pilot, lambda v=view: v.loaded >= 1, "arguments")  # type: ignore[misc]
    await pilot.pause()


async def what_if(pilot: Pilot[int]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query(WhatIf), "policy")
    await wait_for(pilot, lambda: app.status.ready, "header status")
    widget = app.screen.query_one(WhatIf)
    values = {
        "#what-if-tool": "apply_patch",
        "#what-if-args": '{"patch": "--- a/x\\n+++ b/x\\n"}',
        "#what-if-changes": '{"lockdown": true}',
    }
    for selector, value in values.items():
        widget.query_one(selector, Input).value = value
    widget.test()
    await wait_for(pilot, lambda: widget.tested == 1, "decided")
    widget.scroll_visible(animate=False, immediate=True)
    await pilot.pause()


@pytest.mark.parametrize("size", list(SIZES))
def test_bulk_review_snapshot(size: str, snap_compare, workspace: Path) -> None:
    app = snapshot_app(workspace, "approvals")
    assert snap_compare(app, terminal_size=SIZES[size], run_before=bulk_review)


@pytest.mark.parametrize("size", list(SIZES))
def test_what_if_snapshot(size: str, snap_compare, workspace: Path) -> None:
    app = snapshot_app(workspace, "policy")
    assert snap_compare(app, terminal_size=SIZES[size], run_before=what_if)
