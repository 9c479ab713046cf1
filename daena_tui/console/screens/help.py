"""`?`: every section's key and every action's key, generated from the bindings (those the
footer has no room for at 80 columns too)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from daena_tui.console.sections import SECTIONS

GLOBAL_KEYS = (
    ("alt+1 … alt+9", "switch section, from anywhere (also while typing in a field)"),
    ("1 … 9", "switch section when no field has the focus (or click the nav bar)"),
    ("esc", "leave a field: back to the section's list, where its keys work"),
    ("?", "this help"),
    ("ctrl+p", "command palette: every section and action by name, and themes"),
    ("ctrl+t", "change theme (remembered for the next start)"),
    ("tab / shift+tab", "move focus"),
    ("ctrl+q", "quit (asks first while a run is in flight)"),
)


def described(bindings: object) -> list[Binding]:
    """A section's bindings with a description, one per action (the footer shows some)."""
    seen: set[str] = set()
    out: list[Binding] = []
    for binding in bindings if isinstance(bindings, list) else []:
        if isinstance(binding, Binding) and binding.description and binding.action not in seen:
            if binding.action == "leave_field":
                continue  # "esc" is in Everywhere
            seen.add(binding.action)
            out.append(binding)
    return out


def help_table() -> Table:
    from daena_tui.console.screens import SECTION_SCREENS

    table = Table(show_header=False, box=None, padding=(0, 2), expand=True)
    table.add_column(style="bold", width=16)
    table.add_column()
    table.add_row("[u]Everywhere[/u]", "")
    for key, what in GLOBAL_KEYS:
        table.add_row(key, what)
    for section in SECTIONS:
        table.add_row("", "")
        table.add_row(f"[u]{section.key} {section.title}[/u]", section.summary)
        for binding in described(SECTION_SCREENS[section.mode].BINDINGS):
            table.add_row(
                binding.key_display or binding.key, binding.tooltip or binding.description
            )
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        #help-body {
            width: 84; max-width: 95%; height: 90%;
            border: thick $accent; background: $surface; padding: 0 1;
            border-title-color: $text-accent;
        }
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Keys (esc to close)"
            yield Static(help_table())

    def action_close(self) -> None:
        self.dismiss(None)
