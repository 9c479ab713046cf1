"""Shown for the moment it takes to open the engine."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Label, LoadingIndicator


class StartingScreen(Screen[None]):
    DEFAULT_CSS = """
    StartingScreen {
        align: center middle;
        Label { width: 100%; content-align: center middle; color: $text-muted; }
        LoadingIndicator { height: 3; }
    }
    """

    def compose(self) -> ComposeResult:
        yield LoadingIndicator()
        yield Label("Opening the engine…")

    def on_screen_suspend(self) -> None:
        # The spinner redraws 16 times a second for as long as it exists, shown or not:
        # once the engine is open this screen stays behind the sections, so stop it.
        self.query(LoadingIndicator).remove()
