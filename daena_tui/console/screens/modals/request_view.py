"""Every argument of one approval request (key v), in a view as big as the screen: the same
lazy, inert rows as the inbox, with the agent's words in full below them."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

import engine
from daena_tui.console.render import agent_text
from daena_tui.console.widgets.args_view import ArgsView


class RequestViewModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("v", "close", "Close", show=False),
    ]
    DEFAULT_CSS = """
    RequestViewModal {
        align: center middle;
        #request-view {
            width: 95%; height: 95%;
            border: thick $accent; background: $surface; padding: 0 1;
            border-title-color: $text-accent;
        }
        #request-view-args { height: 1fr; }
        #request-view-words { height: auto; max-height: 40%; }
    }
    """

    def __init__(self, request: engine.ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="request-view") as box:
            box.border_title = f"{r.tool} · request {r.id} · all arguments (esc to close)"
            yield ArgsView(id="request-view-args", title="exact arguments (this is what runs)")
            with VerticalScroll(id="request-view-words"):
                yield Static(
                    Group(
                        Text("requested by (agent-supplied):", style="bold"),
                        agent_text(r.requester, max_lines=None, max_chars=None, more=""),
                        Text("agent's reason:", style="bold"),
                        agent_text(r.reason or "(none)", max_lines=None, max_chars=None, more=""),
                    ),
                    id="request-view-body",
                )

    async def on_mount(self) -> None:
        view = self.query_one("#request-view-args", ArgsView)
        await view.load(self.request.args)
        view.focus()

    def action_close(self) -> None:
        self.dismiss(None)
