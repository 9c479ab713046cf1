"""A small form in a modal (a task goal, a node's name and URL): text fields in, dict out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


@dataclass(frozen=True)
class PromptField:
    name: str
    label: str
    value: str = ""
    password: bool = False
    placeholder: str = ""


class PromptModal(ModalScreen[dict[str, str] | None]):
    """Dismisses with {field name: text}, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptModal {
        align: center middle;
        #prompt-box {
            width: 72; max-width: 95%; height: auto;
            border: thick $accent; background: $surface; padding: 1 2;
        }
        #prompt-title { text-style: bold; margin-bottom: 1; }
        #prompt-buttons { height: auto; margin-top: 1; align-horizontal: right; }
        Button { margin-left: 1; }
    }
    """

    def __init__(self, title: str, fields: list[PromptField], *, submit: str = "OK") -> None:
        super().__init__()
        self._title = title
        self._fields = fields
        self._submit = submit

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Label(self._title, id="prompt-title")
            for f in self._fields:
                yield Label(f.label)
                yield Input(
                    f.value, placeholder=f.placeholder, password=f.password, id=f"prompt-{f.name}"
                )
            with Horizontal(id="prompt-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self._submit, variant="primary", id="submit")

    def _values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#prompt-{f.name}", Input).value for f in self._fields}

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self._values() if event.button.id == "submit" else None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self._values())

    def action_cancel(self) -> None:
        self.dismiss(None)
