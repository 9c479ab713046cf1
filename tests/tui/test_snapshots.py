"""SVG snapshots of every section at 80x24 and 120x40 (fixed data with a pending patch and
long values, frozen clock), of help and of the voice rows.

Regenerate after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from daena_tui.console.widgets.args_view import ArgsView
from daena_tui.console.widgets.decision_rule import DecisionRule
from daena_tui.console.widgets.virtual_table import VirtualTable

from .conftest import wait_for
from .snapshot_data import MODELS_ROOT, snapshot_app


def rows(selector: str, at_least: int = 1) -> Callable[[Pilot[int]], object]:
    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: app.screen.query(selector), f"{selector} mounted")
        table = app.screen.query_one(selector)
        assert isinstance(table, DataTable | VirtualTable)
        await wait_for(pilot, lambda: table.row_count >= at_least, f"{selector} rows")
        await wait_for(pilot, lambda: app.status.ready, "header status")
        await pilot.pause()

    return run_before


async def models_ready(pilot: Pilot[int]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query("#models-table"), "models screen")
    screen = app.screen
    await wait_for(pilot, lambda: getattr(screen, "brain", None) is not None, "brain status")
    await wait_for(pilot, lambda: getattr(screen, "voice", None) is not None, "voice status")
    await wait_for(pilot, lambda: not screen.query_one("#brain-status").loading, "brain loaded")
    await rows("#models-table")(pilot)


def same_machine_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What Models shows must not depend on the machine: MODELS_ROOT comes from the
    environment (its source reads `env`), no espeak-ng and no audio player on PATH (an empty
    dir), and Coqui's `TTS` not importable."""
    monkeypatch.setenv("MODELS_ROOT", MODELS_ROOT)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setitem(sys.modules, "TTS", None)


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


async def servers_ready(pilot: Pilot[int]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query("#mcp-tools"), "servers screen")
    await wait_for(pilot, lambda: app.status.ready, "header status")
    await pilot.pause()


async def inbox_ready(pilot: Pilot[int]) -> None:
    await rows("#inbox", 2)(pilot)
    view = pilot.app.screen.query_one("#approval-args", ArgsView)
    await wait_for(pilot, lambda: view.row_count > 0, "arguments shown")
    rule = pilot.app.screen.query_one(DecisionRule)
    await wait_for(pilot, lambda: rule.shown, "decided by (the detail's border)")
    await pilot.pause()


SECTIONS = {
    "tools": rows("#tools-table", 5),
    "run": run_form_ready,
    "approvals": inbox_ready,
    "tasks": tasks_ready,
    "logs": rows("#logs-table", 5),
    "nodes": rows("#nodes-table"),
    "models": models_ready,
    "policy": policy_ready,
    "servers": servers_ready,
}
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("section", list(SECTIONS))
def test_section_snapshot(
    section: str,
    size: str,
    snap_compare,
    tmp_path: Path,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = snapshot_app(workspace, section)  # seeding runs git: PATH is emptied after it
    same_machine_everywhere(tmp_path, monkeypatch)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=SECTIONS[section])


def test_help_snapshot(snap_compare, workspace: Path) -> None:
    app = snapshot_app(workspace, "tools")

    async def run_before(pilot: Pilot[int]) -> None:
        await rows("#tools-table", 5)(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen", "help")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_models_voice_snapshot(
    snap_compare, tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The voice rows below the fold: nothing from this machine (PATH, TTS, tmp dirs)."""
    app = snapshot_app(workspace, "models")
    same_machine_everywhere(tmp_path, monkeypatch)

    async def run_before(pilot: Pilot[int]) -> None:
        await models_ready(pilot)
        body = pilot.app.screen.query_one("#models-body")
        body.scroll_end(animate=False, immediate=True)
        await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y > 0, "scrolled down")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


@pytest.mark.parametrize("section", ["approvals", "logs", "policy"])
def test_light_theme_snapshot(section: str, snap_compare, workspace: Path) -> None:
    """The light theme is readable: every colour comes from the theme's variables."""
    app = snapshot_app(workspace, section)

    async def run_before(pilot: Pilot[int]) -> None:
        pilot.app.theme = "textual-light"
        await SECTIONS[section](pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
