"""A small form in a modal (a task goal, a node's name and URL): one-line fields in, dict out.

Enter in a field moves to the next one; only Enter in the last field (or the Save button)
submits, so a multi-field dialog is never sent from its first field. With a `check`, the
dialog stays open on bad input: the message shows under the field it names ("url: ..."),
and everything typed is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from engine.safety.display import inert_one_line

# Given the values, the reason they are refused ("field: rule"), or None when accepted.
Check = Callable[[dict[str, str]], Awaitable[str | None]]


@dataclass(frozen=True)
class PromptField:
    name: str
    label: str
    value: str = ""
    password: bool = False
    placeholder: str = ""


class PromptModal(ModalScreen[dict[str, str] | None]):
    """Dismisses with {field name: text} once accepted, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptModal {
        align: center middle;
        #prompt-box {
            width: 72; max-width: 95%; height: auto;
            border: thick $accent; background: $surface; padding: 1 2;
        }
        #prompt-title { text-style: bold; margin-bottom: 1; }
        .prompt-error { color: $text-error; height: auto; }
        #prompt-buttons { height: auto; margin-top: 1; align-horizontal: right; }
        Button { margin-left: 1; }
    }
    """

    def __init__(
        self,
        title: str,
        fields: list[PromptField],
        *,
        submit: str = "OK",
        check: Check | None = None,
    ) -> None:
        super().__init__()
        self._title = title
        self._fields = fields
        self._submit = submit
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Label(Text(self._title), id="prompt-title")
            for f in self._fields:
                yield Label(Text(f.label))
                yield Input(
                    f.value, placeholder=f.placeholder, password=f.password, id=f"prompt-{f.name}"
                )
                yield Static(id=f"prompt-{f.name}-error", classes="prompt-error")
            with Horizontal(id="prompt-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self._submit, variant="primary", id="submit")

    def on_mount(self) -> None:
        self.query_one(f"#prompt-{self._fields[0].name}", Input).focus()
        for f in self._fields:
            self.query_one(f"#prompt-{f.name}-error", Static).display = False

    def _values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#prompt-{f.name}", Input).value for f in self._fields}

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self._accept()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: on to the next field; from the last one, submit."""
        event.stop()
        names = [f"prompt-{f.name}" for f in self._fields]
        here = names.index(event.input.id or "") if event.input.id in names else len(names)
        if here < len(names) - 1:
            self.query_one(f"#{names[here + 1]}", Input).focus()
        else:
            self._accept()

    @work(exclusive=True, group="prompt-check")
    async def _accept(self) -> None:
        values = self._values()
        problem = await self._check(values) if self._check is not None else None
        if problem is None:
            self.dismiss(values)
            return
        self._show_problem(problem)

    def _show_problem(self, problem: str) -> None:
        """Under the field the message names (`url: ...`), else under the first one."""
        for f in self._fields:
            self.query_one(f"#prompt-{f.name}-error", Static).display = False
        name = problem.split(":", 1)[0].strip()
        field = next((f for f in self._fields if f.name == name), self._fields[0])
        error = self.query_one(f"#prompt-{field.name}-error", Static)
        error.update(Text(inert_one_line(problem, 300)))
        error.display = True
        self.query_one(f"#prompt-{field.name}", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
