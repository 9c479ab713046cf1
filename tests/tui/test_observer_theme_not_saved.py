"""Red team, the web observer writes nothing on the server: not even the operator's theme.

A remote colleague in `daena web` drives a real console on the operator's machine. The
engine refuses every change, but changing the theme (ctrl+t, the palette) wrote the
operator's own preferences file (`~/.config/daena/console.json`) on that machine, so an
observer changed what the operator's console looks like the next time it starts. An
observer's console still follows the saved theme; its own choice lasts for its session.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandPalette

import engine
from daena_tui.console.app import create_app
from daena_tui.console.preferences import Preferences

from .conftest import started, wait_for


@pytest.mark.parametrize("observer", [True, False])
async def test_an_observer_changing_the_theme_writes_no_preferences(
    eng: engine.Engine, settings: engine.Settings, tmp_path: Path, observer: bool
) -> None:
    path = tmp_path / "config" / "console.json"
    Preferences(path).save_theme("textual-dark")
    before = path.read_bytes()
    app = create_app(settings, observer=observer, preferences=Preferences(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        assert app.theme == "textual-dark"  # the saved theme is followed either way
        await pilot.press("ctrl+t")  # the theme picker
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the picker")
        await pilot.press(*"nord", "enter")
        await wait_for(pilot, lambda: app.theme == "nord", "the theme picked")
        await pilot.pause()
    if observer:
        assert path.read_bytes() == before
        assert sorted(p.name for p in path.parent.iterdir()) == ["console.json"]
    else:  # the operator's own console remembers it (the same key, the same file)
        assert Preferences(path).theme() == "nord"
