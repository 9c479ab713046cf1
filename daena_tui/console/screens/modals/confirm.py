"""Yes/no confirmation for destructive actions; focus starts on the safe choice."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmModal(ModalScreen[bool]):
    """Dismisses with True only when the operator presses the confirm button."""

    AUTO_FOCUS = "#cancel"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ConfirmModal {
        align: center middle;
        #confirm-box {
            width: 64; max-width: 95%; height: auto;
            border: thick $error; background: $surface; padding: 1 2;
        }
        #confirm-title { text-style: bold; margin-bottom: 1; }
        #confirm-buttons { height: auto; margin-top: 1; align-horizontal: right; }
        Button { margin-left: 1; }
    }
    """

    def __init__(self, title: str, body: str, *, confirm: str = "Confirm") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            # Bodies name tools and tasks (an upstream's names are untrusted): never markup.
            yield Label(Text(self._title), id="confirm-title")
            yield Static(Text(self._body))
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self._confirm, variant="error", id="confirm")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)
