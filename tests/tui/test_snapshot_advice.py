"""SVG snapshots of the inbox with an advisory note (widgets/advice.py) at 80x24 and 120x40:
a real HTTP server stands in for Ollama (tests/engine/tasks/tasks_fake_ollama.py), on the
fixed snapshot data. The note sits below the exact arguments, labelled as a model's.

Regenerate after an intended change with
`pytest tests/tui/test_snapshot_advice.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from daena_tui.console.widgets.advice import AdviceNote
from tests.engine.tasks.tasks_fake_ollama import FakeOllama, final

from .advice_support import MODEL, advice_update
from .conftest import wait_for
from .snapshot_data import snapshot_app
from .test_snapshots import inbox_ready

NOTE = (
    "Replaces the README's one-line title with a three-line heading. Only README.md "
    "changes; nothing runs. What could go wrong: the wording, not the workspace."
)
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    server = FakeOllama([MODEL]).start()
    server.default = final(NOTE)
    yield server
    server.stop()


async def note_shown(pilot: Pilot[int]) -> None:
    await inbox_ready(pilot)
    note = pilot.app.screen.query_one(AdviceNote)
    await wait_for(pilot, lambda: note.advice is not None and note.display, "the note")
    await pilot.pause()


@pytest.mark.parametrize("size", list(SIZES))
def test_inbox_with_an_advisory_note_snapshot(
    size: str, snap_compare, workspace: Path, ollama: FakeOllama
) -> None:
    app = snapshot_app(workspace, "approvals", settings_update=advice_update(ollama.url))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=note_shown)
