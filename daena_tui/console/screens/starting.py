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
