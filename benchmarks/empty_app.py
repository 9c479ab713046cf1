"""The baseline for benchmark 3: an empty Textual app that paints one line."""

from textual.app import App, ComposeResult
from textual.widgets import Static


class Empty(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("empty-app-ready")


if __name__ == "__main__":
    Empty().run()
