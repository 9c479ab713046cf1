"""Deciding one approval request: two modals that can each do one thing only (docs/security.md, 6).

`DenyModal` (key d) can only deny: the reason field has the focus, Enter submits the denial,
an empty reason is refused in place, and there is no Approve button to land on. `ApproveModal`
(key a) can only approve: it shows the exact arguments first, the focus starts on Cancel and
Enter in its note field never approves — approving takes a deliberate move to the Approve
button (click, or shift+tab / left, then Enter). Escape cancels both. So no key sequence in a
deny flow approves, and no slip in an approve flow denies.

All agent-authored text (arguments, requester, reason) is shown inert and labelled; the
time left counts down while the dialog is open (an expired request cannot be approved: the
engine refuses it, and the dialog says so before the operator tries).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

import engine
from daena_tui.console.clock import Clock, time_left
from daena_tui.console.render import agent_cell
from daena_tui.console.screens.modals.button_walk import move_focus
from daena_tui.console.widgets.args_view import ArgsView

_CSS = """
{name} {{
    align: center middle;
    .decision-box {{
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick {border}; background: $surface; padding: 0 1;
    }}
    .decision-title {{ text-style: bold; }}
    .decision-args {{ height: 12; }}
    .decision-error {{ color: $text-error; height: auto; }}
    .decision-buttons {{ height: auto; align-horizontal: right; }}
    Button {{ margin-left: 1; }}
}}
"""


def request_facts(request: engine.ApprovalRequest, risk: str, seconds_left: float) -> Text:
    """What the console knows (tool, risk, time left), then the agent's words, labelled."""
    text = Text()
    text.append("tool ", "dim").append(request.tool, "bold")
    text.append(" · risk ", "dim").append(risk, "bold")
    text.append(" · expires in ", "dim").append(time_left(seconds_left), "bold")
    text.append("\n")
    text.append("requested by (agent-supplied): ", "dim").append(agent_cell(request.requester, 60))
    if request.reason:
        text.append("\nagent's reason: ", "dim").append(agent_cell(request.reason, 120))
    return text


class _ButtonWalk(ModalScreen[str | None]):
    """One request's decision dialog: escape cancels; arrow keys walk the buttons (an input
    keeps its own arrows); a line says what Enter does where the focus is now."""

    ENTER_DOES: ClassVar[dict[str, str]] = {}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("left", "move(-1)", "Previous button", show=False),
        Binding("right", "move(1)", "Next button", show=False),
    ]

    def __init__(self, request: engine.ApprovalRequest, *, risk: str, seconds_left: float) -> None:
        super().__init__()
        self.request = request
        self.risk = risk
        self.seconds_left = seconds_left

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """Count the time left down, as the inbox does."""
        clock = getattr(self.app, "clock", None)
        now = clock.now() if isinstance(clock, Clock) else None
        self.seconds_left = self.request.seconds_left(now)
        self.query_one("#decision-facts", Static).update(
            request_facts(self.request, self.risk, self.seconds_left)
        )

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_descendant_focus(self) -> None:
        focused = self.focused
        does = self.ENTER_DOES.get(focused.id or "", "nothing") if focused else "nothing"
        self.query_one("#enter-does", Static).update(Text(f"Enter now: {does}", style="bold"))

    def action_move(self, step: int) -> None:
        move_focus(self, step, self.AUTO_FOCUS)


class DenyModal(_ButtonWalk):
    """Dismisses with the reason of the denial, or None when cancelled. It cannot approve."""

    AUTO_FOCUS = "#reason"
    ENTER_DOES: ClassVar[dict[str, str]] = {
        "reason": "deny",
        "deny": "deny",
        "cancel": "cancel",
    }
    DEFAULT_CSS = _CSS.format(name="DenyModal", border="$error")

    def compose(self) -> ComposeResult:
        with Vertical(classes="decision-box"):
            yield Label(Text(f"Deny request {self.request.id}?"), classes="decision-title")
            yield Static(
                request_facts(self.request, self.risk, self.seconds_left), id="decision-facts"
            )
            yield Static(Text("It will not run. Enter denies; esc cancels.", style="dim"))
            yield Input(placeholder="reason for the denial (required)", id="reason")
            yield Static(id="decision-error", classes="decision-error")
            yield Static(id="enter-does")
            with Horizontal(classes="decision-buttons"):
                yield Button("Deny", variant="error", id="deny")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "deny":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def _submit(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#decision-error", Static).update(
                Text("reason: a denial needs a reason.")
            )
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(reason)


class ApproveModal(_ButtonWalk):
    """Dismisses with the operator's note ("" for none) when Approve is pressed, else None.
    It cannot deny."""

    AUTO_FOCUS = "#cancel"
    ENTER_DOES: ClassVar[dict[str, str]] = {
        "note": "go to Cancel",
        "approve": "APPROVE (it runs once)",
        "cancel": "cancel",
    }
    DEFAULT_CSS = _CSS.format(name="ApproveModal", border="$warning")

    def compose(self) -> ComposeResult:
        with Vertical(classes="decision-box"):
            yield Label(Text(f"Approve request {self.request.id}?"), classes="decision-title")
            yield ArgsView(
                id="approve-args",
                classes="decision-args",
                title="exact arguments (this is what runs)",
            )
            yield Static(
                request_facts(self.request, self.risk, self.seconds_left), id="decision-facts"
            )
            yield Static(
                Text("Approving runs it once, exactly as shown. Focus is on Cancel.", style="dim")
            )
            yield Input(placeholder="note (optional)", id="note")
            yield Static(id="enter-does")
            with Horizontal(classes="decision-buttons"):
                yield Button("Approve", variant="success", id="approve")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:  # Textual also runs the base class's on_mount
        self.run_worker(self.query_one("#approve-args", ArgsView).load(self.request.args))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "approve":
            self.dismiss(self.query_one("#note", Input).value.strip())
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the note field goes back to Cancel; it never approves by itself."""
        event.stop()
        self.query_one("#cancel", Button).focus()
