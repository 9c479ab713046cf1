"""SVG snapshots of every section at 100x30 and of the inbox at 80x24 (fixed data, frozen clock).

Regenerate after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from .conftest import wait_for
from .snapshot_data import snapshot_app


def rows(selector: str, at_least: int = 1) -> Callable[[Pilot[int]], object]:
    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: app.screen.query(selector), f"{selector} mounted")
        table = app.screen.query_one(selector, DataTable)
        await wait_for(pilot, lambda: table.row_count >= at_least, f"{selector} rows")
        await wait_for(pilot, lambda: app.status.ready, "header status")
        await pilot.pause()

    return run_before


async def models_ready(pilot: Pilot[int]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query("#models-table"), "models screen")
    await wait_for(pilot, lambda: getattr(app.screen, "ollama", None) is not None, "ollama probe")
    await rows("#models-table")(pilot)


async def run_form_ready(pilot: Pilot[int]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query("#run-tool"), "run screen")
    await wait_for(pilot, lambda: getattr(app.screen, "_tools", None), "tool list")
    await app.open_run_form("apply_patch")
    await wait_for(pilot, lambda: getattr(app.screen, "tool", None) == "apply_patch", "form")
    await wait_for(pilot, lambda: app.status.ready, "header status")
    await pilot.pause()


async def policy_ready(pilot: Pilot[int]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: getattr(app.screen, "config", None) is not None, "policy")
    await wait_for(pilot, lambda: app.status.ready, "header status")
    await pilot.pause()


async def tasks_ready(pilot: Pilot[int]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query("#tasks-table"), "tasks screen")
    await wait_for(pilot, lambda: app.status.ready, "header status")
    await pilot.pause()


SECTIONS = {
    "tools": rows("#tools-table", 5),
    "run": run_form_ready,
    "approvals": rows("#inbox", 2),
    "tasks": tasks_ready,
    "logs": rows("#logs-table", 5),
    "nodes": rows("#nodes-table"),
    "models": models_ready,
    "policy": policy_ready,
}


@pytest.mark.parametrize("section", list(SECTIONS))
def test_section_snapshot(section: str, snap_compare, tmp_path: Path, workspace: Path) -> None:
    app = snapshot_app(tmp_path, workspace, section)
    assert snap_compare(app, terminal_size=(100, 30), run_before=SECTIONS[section])


def test_inbox_at_80x24(snap_compare, tmp_path: Path, workspace: Path) -> None:
    app = snapshot_app(tmp_path, workspace, "approvals")
    assert snap_compare(app, terminal_size=(80, 24), run_before=rows("#inbox", 2))


def test_help_snapshot(snap_compare, tmp_path: Path, workspace: Path) -> None:
    app = snapshot_app(tmp_path, workspace, "tools")

    async def run_before(pilot: Pilot[int]) -> None:
        await rows("#tools-table", 5)(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
