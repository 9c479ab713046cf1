"""Approve or deny one approval request, with a reason. Focus starts on Deny (the safe choice)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

import engine
from daena_tui.clock import time_left


@dataclass(frozen=True)
class Decision:
    approve: bool
    reason: str


class DecisionModal(ModalScreen[Decision | None]):
    """Dismisses with a `Decision`, or None when cancelled."""

    AUTO_FOCUS = "#deny"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("left", "move(-1)", "Previous button", show=False),
        Binding("right", "move(1)", "Next button", show=False),
    ]
    DEFAULT_CSS = """
    DecisionModal {
        align: center middle;
        #decision-box {
            width: 72; max-width: 95%; height: auto;
            border: thick $warning; background: $surface; padding: 1 2;
        }
        #decision-title { text-style: bold; margin-bottom: 1; }
        #decision-error { color: $error; height: auto; }
        #decision-buttons { height: auto; margin-top: 1; align-horizontal: right; }
        Button { margin-left: 1; }
    }
    """

    def __init__(
        self, request: engine.ApprovalRequest, *, intent: str, seconds_left: float
    ) -> None:
        super().__init__()
        self.request = request
        self.intent = intent
        self.seconds_left = seconds_left

    def compose(self) -> ComposeResult:
        r = self.request
        verb = "Approve" if self.intent == "approve" else "Deny"
        with Vertical(id="decision-box"):
            yield Label(f"{verb} request {r.id}?", id="decision-title")
            yield Static(
                Content.from_markup(
                    f"tool [b]{escape(r.tool)}[/] · requested by [b]{escape(r.requester)}[/]"
                    f" · expires in {time_left(self.seconds_left)}\n"
                    + (f"reason: {escape(r.reason)}\n" if r.reason else "")
                    + "Approving runs it once, exactly as shown in the detail pane."
                )
            )
            yield Input(placeholder="reason (required to deny)", id="reason")
            yield Static(id="decision-error")
            with Horizontal(id="decision-buttons"):
                yield Button("Deny", variant="error", id="deny")
                yield Button("Approve", variant="success", id="approve")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        reason = self.query_one("#reason", Input).value.strip()
        if event.button.id == "approve":
            self.dismiss(Decision(True, reason))
        elif event.button.id == "deny":
            if not reason:
                self.query_one("#decision-error", Static).update("A denial needs a reason.")
                self.query_one("#reason", Input).focus()
                return
            self.dismiss(Decision(False, reason))
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the reason field moves to the buttons; it never decides by itself."""
        event.stop()
        self.query_one("#deny", Button).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_move(self, step: int) -> None:
        """Arrow keys walk the buttons (the reason field keeps its own arrow keys)."""
        buttons = list(self.query(Button))
        focused = self.focused
        if isinstance(focused, Button) and focused in buttons:
            buttons[(buttons.index(focused) + step) % len(buttons)].focus()
