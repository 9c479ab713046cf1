"""The Policy section's what-if tester: type a call (a tool and its arguments as JSON) and
a policy change you have not saved (JSON), and see which rule decides the call under the
policy as it is and under the changed one.

It asks `Engine.explain`, which admits the call with the executor's own checks and stops
there: nothing runs, nothing is stored, nothing is audited, and the change is validated by
`PolicyStore.preview` but never saved. Bad input is a message naming the field; the fields
keep what was typed. Enter in a field goes on to the next one; in the last one it tests.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Input, Label, Static

import engine
from engine.explain import Decision
from engine.runs import RunRequest
from engine.safety.display import inert_one_line

if TYPE_CHECKING:
    from daena_tui.console.app import DaenaApp

FIELDS = ("what-if-tool", "what-if-args", "what-if-changes")


def json_object(raw: str, field: str) -> dict[str, Any]:
    """`raw` as a JSON object ("" is {}), or an InputError naming `field`."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise engine.InputError(
            f"{field}: not valid JSON ({err.msg} at column {err.colno})"
        ) from err
    if not isinstance(value, dict):
        raise engine.InputError(f'{field}: must be a JSON object, like {{"key": "value"}}')
    return value


def decision_line(label: str, decision: Decision) -> Text:
    """One decision as the console's words; the rule's text may quote the agent's call, so
    it is shown inert."""
    text = Text()
    text.append(f"{label}: ", "bold").append(decision.outcome.replace("_", " "), "bold")
    if decision.risk:
        text.append(f" ({decision.risk} risk)")
    text.append(" · decided by: ", "dim").append(decision.rule, "bold")
    text.append(" — ").append(inert_one_line(decision.text, 300))
    return text


class WhatIf(Vertical):
    """A call and a policy change in, two decisions out; never runs anything."""

    DEFAULT_CSS = """
    WhatIf {
        height: auto;
        border: round $border;
        border-title-color: $text-accent;
        padding: 0 1;
        margin-top: 1;
        Input { background: $boost; }
        Input:focus { background: $surface-lighten-1; }
        #what-if-error { color: $text-error; height: auto; }
        #what-if-test { width: auto; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tested = 0  # decisions shown so far (tests wait on it)

    def compose(self) -> ComposeResult:
        self.border_title = "What if — test a call (runs nothing, records nothing)"
        yield Label("Tool")
        yield Input(placeholder="e.g. filesystem_write", id="what-if-tool", compact=True)
        yield Label("Arguments (JSON)")
        yield Input(
            placeholder='e.g. {"path": "notes.txt", "content": "hi"}',
            id="what-if-args",
            compact=True,
        )
        yield Label("Policy change to try, not saved (JSON)")
        yield Input(
            placeholder='e.g. {"approval_mode": "auto", "tool_enabled": {"shell_exec": true}}',
            id="what-if-changes",
            compact=True,
        )
        yield Button("Test", id="what-if-test", compact=True)
        yield Static(id="what-if-error")
        yield Static(id="what-if-now")
        yield Static(id="what-if-then")

    @on(Input.Submitted, "#what-if-tool, #what-if-args, #what-if-changes")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()  # the Policy section's own Enter (save budgets) is not for these fields
        name = event.input.id or ""
        if name != FIELDS[-1]:
            self.query_one(f"#{FIELDS[FIELDS.index(name) + 1]}", Input).focus()
        else:
            self.test()

    @on(Button.Pressed, "#what-if-test")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.test()

    def test(self) -> None:
        self._show_error("")
        tool = self.query_one("#what-if-tool", Input).value.strip()
        try:
            if not tool:
                raise engine.InputError("tool: type the name of a tool")
            args = json_object(self.query_one("#what-if-args", Input).value, "arguments")
            changes = json_object(self.query_one("#what-if-changes", Input).value, "policy change")
        except engine.EngineError as err:
            self._show_error(err.message)
            return
        self._explain(RunRequest(tool=tool, args=args), changes)

    @work(exclusive=True, group="what-if")
    async def _explain(self, request: RunRequest, changes: dict[str, Any]) -> None:
        eng = cast("DaenaApp", self.app).eng
        try:
            now = await eng.explain(request, policy_changes=None)
            then = await eng.explain(request, policy_changes=changes) if changes else None
        except engine.EngineError as err:
            self._show_error(err.message)
            return
        self.query_one("#what-if-now", Static).update(decision_line("under the policy now", now))
        later = self.query_one("#what-if-then", Static)
        if then is None:
            later.update(Text("(no policy change typed)", style="dim"))
        else:
            later.update(decision_line("with the change", then))
        self.tested += 1

    def _show_error(self, message: str) -> None:
        self.query_one("#what-if-error", Static).update(Text(inert_one_line(message, 300)))
        if message:
            self.query_one("#what-if-now", Static).update("")
            self.query_one("#what-if-then", Static).update("")
