"""Every argument of one approval request in full (key v): what the capped detail pane left
out behind its "N more lines" marker, still inert."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

import engine
from daena_tui.console.render import agent_text, render_args


class RequestViewModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("v", "close", "Close", show=False),
    ]
    DEFAULT_CSS = """
    RequestViewModal {
        align: center middle;
        #request-view {
            width: 95%; height: 90%;
            border: thick $accent; background: $surface; padding: 0 1;
            border-title-color: $text-accent;
        }
    }
    """

    def __init__(self, request: engine.ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        with VerticalScroll(id="request-view") as scroll:
            scroll.border_title = f"{r.tool} · request {r.id} · all arguments (esc to close)"
            yield Static(
                Group(
                    Text("exact arguments (this is what runs):", style="bold"),
                    render_args(r.args, max_lines=None, max_chars=None, more=""),
                    Text("\nrequested by (agent-supplied):", style="bold"),
                    agent_text(r.requester, max_lines=None, max_chars=None, more=""),
                    Text("\nagent's reason:", style="bold"),
                    agent_text(r.reason or "(none)", max_lines=None, max_chars=None, more=""),
                ),
                id="request-view-body",
            )

    def action_close(self) -> None:
        self.dismiss(None)
