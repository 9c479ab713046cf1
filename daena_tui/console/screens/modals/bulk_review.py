"""Bulk approve-once: the requests marked in the inbox (space), reviewed in one list (b).

Each request shows its own exact arguments (the same lazy, inert view as the inbox) and
the console's facts; the agent's words are labelled. One action decides them all, but the
engine still decides each one by its id: an approval runs that request once with the
arguments it stored, exactly as `a` would, and never mints a grant (docs/security.md). A
request decided elsewhere or expired meanwhile is refused by the engine alone and named in
the summary; the others still go through.

As in the single-request dialogs, the focus starts on Cancel, Enter in the text field never
decides, and denying needs a reason (shown under the field when missing; the dialog stays
open).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

import engine
from daena_tui.console.clock import Clock, time_left
from daena_tui.console.render import agent_cell
from daena_tui.console.screens.modals.button_walk import move_focus
from daena_tui.console.widgets.args_view import ArgsView
from engine.safety.display import inert_one_line


@dataclass(frozen=True)
class BulkDecision:
    """What the operator chose: approve or deny, the note or reason, and which requests."""

    intent: str
    text: str
    ids: tuple[str, ...]


@dataclass
class BulkOutcome:
    """How each decision went: (request id, tool, what happened) in review order."""

    intent: str
    done: list[tuple[str, str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        verb = "approved" if self.intent == "approve" else "denied"
        lines = [
            f"{len(self.done)} {verb}" + (f", {len(self.failed)} refused" if self.failed else "")
        ]
        lines += [f"{rid} {tool}: {what}" for rid, tool, what in self.done]
        lines += [f"{rid} {tool} NOT {verb}: {what}" for rid, tool, what in self.failed]
        return "\n".join(inert_one_line(line, 200) for line in lines)


async def decide_all(
    eng: engine.Engine, requests: list[engine.ApprovalRequest], decision: BulkDecision
) -> BulkOutcome:
    """Decide each reviewed request by its id, one after another, as the single-request
    keys do (the engine re-reads each one and refuses any it may not decide)."""
    outcome = BulkOutcome(decision.intent)
    by_id = {r.id: r for r in requests}
    for request_id in decision.ids:
        tool = by_id[request_id].tool if request_id in by_id else "?"
        try:
            if decision.intent == "approve":
                result = await eng.approve(request_id, reason=decision.text)
                error = f" — {result.error}" if result.error else ""
                outcome.done.append((request_id, tool, f"ran once: {result.status}{error}"))
            else:
                await eng.deny(request_id, decision.text)
                outcome.done.append((request_id, tool, "will not run"))
        except engine.EngineError as err:
            outcome.failed.append((request_id, tool, err.message))
    return outcome


def _facts(r: engine.ApprovalRequest, risk: str, seconds_left: float, n: int) -> Text:
    text = Text()
    text.append(f"{n}. ", "bold").append(r.tool, "bold")
    text.append(" · risk ", "dim").append(risk, "bold")
    text.append(" · expires in ", "dim").append(time_left(seconds_left), "bold")
    text.append(f" · {r.id}", "dim")
    text.append("\nrequested by (agent-supplied): ", "dim").append(agent_cell(r.requester, 60))
    if r.reason:
        text.append("\nagent's reason: ", "dim").append(agent_cell(r.reason, 120))
    return text


class BulkReviewModal(ModalScreen[BulkDecision | None]):
    """Dismisses with the operator's BulkDecision, or None when cancelled."""

    AUTO_FOCUS = "#bulk-cancel"
    ENTER_DOES: ClassVar[dict[str, str]] = {
        "bulk-text": "go to Cancel",
        "bulk-approve": "APPROVE ALL (each runs once)",
        "bulk-deny": "DENY ALL (with the reason above)",
        "bulk-cancel": "cancel",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("left", "move(-1)", "Previous button", show=False),
        Binding("right", "move(1)", "Next button", show=False),
    ]
    DEFAULT_CSS = """
    BulkReviewModal {
        align: center middle;
        #bulk-box {
            width: 100; max-width: 100%; height: 100%;
            border: thick $warning; background: $surface; padding: 0 1;
        }
        #bulk-title { text-style: bold; }
        #bulk-list { height: 1fr; }
        .bulk-args { height: 8; }
        #bulk-error { color: $text-error; height: auto; }
        #bulk-buttons { height: auto; align-horizontal: right; }
        Button { margin-left: 1; }
    }
    """

    def __init__(
        self,
        requests: list[engine.ApprovalRequest],
        *,
        risks: dict[str, str],
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.requests = requests
        self.risks = risks
        self.clock = clock

    def _now(self) -> float | None:
        return self.clock.now() if self.clock is not None else None

    def compose(self) -> ComposeResult:
        n = len(self.requests)
        now = self._now()
        with Vertical(id="bulk-box"):
            yield Label(Text(f"Review {n} marked request{'s' if n != 1 else ''}"), id="bulk-title")
            yield Static(
                Text(
                    "Each runs once, exactly as shown, and no grant is created. "
                    "Focus is on Cancel; esc cancels.",
                    style="dim",
                )
            )
            with VerticalScroll(id="bulk-list"):
                for i, r in enumerate(self.requests):
                    yield Static(
                        _facts(r, self.risks.get(r.id, "?"), r.seconds_left(now), i + 1),
                        id=f"bulk-facts-{i}",
                    )
                    yield ArgsView(
                        id=f"bulk-args-{i}",
                        classes="bulk-args",
                        title="exact arguments (this is what runs)",
                    )
            yield Input(placeholder="note to approve, or reason to deny (required)", id="bulk-text")
            yield Static(id="bulk-error")
            yield Static(id="enter-does")
            with Horizontal(id="bulk-buttons"):
                yield Button(f"Approve all {n}", variant="success", id="bulk-approve")
                yield Button(f"Deny all {n}", variant="error", id="bulk-deny")
                yield Button("Cancel", id="bulk-cancel")

    async def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        for i, r in enumerate(self.requests):
            await self.query_one(f"#bulk-args-{i}", ArgsView).load(r.args)

    def _tick(self) -> None:
        now = self._now()
        for i, r in enumerate(self.requests):
            self.query_one(f"#bulk-facts-{i}", Static).update(
                _facts(r, self.risks.get(r.id, "?"), r.seconds_left(now), i + 1)
            )

    def on_descendant_focus(self) -> None:
        focused = self.focused
        does = self.ENTER_DOES.get(focused.id or "", "nothing") if focused else "nothing"
        self.query_one("#enter-does", Static).update(Text(f"Enter now: {does}", style="bold"))

    def action_move(self, step: int) -> None:
        move_focus(self, step, self.AUTO_FOCUS)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the text field goes to Cancel; it never decides by itself."""
        event.stop()
        self.query_one("#bulk-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        text = self.query_one("#bulk-text", Input).value.strip()
        ids = tuple(r.id for r in self.requests)
        if event.button.id == "bulk-approve":
            self.dismiss(BulkDecision("approve", text, ids))
        elif event.button.id == "bulk-deny":
            if not text:
                self.query_one("#bulk-error", Static).update(
                    Text("reason: a denial needs a reason (type it above, then Deny all).")
                )
                self.query_one("#bulk-text", Input).focus()
                return
            self.dismiss(BulkDecision("deny", text, ids))
        else:
            self.dismiss(None)
