"""Policy: approval mode, budgets (validated), dry-run default and the lockdown switch
(which asks for confirmation both ways). Every change is stored and audited by the engine.
Every switch says on or off beside it; a budget field is one row, its error under it."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.validation import Integer
from textual.widgets import Button, Input, Label, Select, Static, Switch

import engine
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.screens.modals.confirm import ConfirmModal
from daena_tui.console.widgets.what_if import WhatIf

BUDGETS = ("max_steps_per_run", "max_retries_per_tool")
SWITCHES = ("require_approval_for_risky", "dry_run_default")


def bounds(name: str) -> tuple[int | None, int | None]:
    prop: dict[str, Any] = engine.ExecutionConfig.model_json_schema()["properties"][name]
    return prop.get("minimum"), prop.get("maximum")


class PolicyScreen(SectionScreen):
    SECTION = "policy"
    MAIN = "#approval_mode"
    RELOAD_ON = (engine.ConfigChanged,)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_budgets", "Save budgets", priority=True),
        Binding("ctrl+l", "toggle_lockdown", "Lockdown on/off", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.config: engine.ExecutionConfig | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="policy-body") as body:
            body.border_title = "Policy"
            yield from self._grid()
            yield Button("Save budgets", id="save-budgets", compact=True)
            yield Static("", id="policy-note")
            yield WhatIf(id="what-if")

    def _grid(self) -> ComposeResult:
        with Grid(id="policy-grid"):
            yield Label("Approval mode")
            yield Select[str](
                [("require_approval", "require_approval"), ("auto", "auto")],
                allow_blank=False,
                id="approval_mode",
                compact=True,
            )
            yield Label("Require approval for risky tools")
            with Horizontal(classes="switch-row"):
                yield Switch(id="require_approval_for_risky")
                yield Label("", id="require_approval_for_risky-state", classes="switch-state")
            for name in BUDGETS:
                low, high = bounds(name)
                yield Label(f"{name.replace('_', ' ').capitalize()} ({low}-{high})")
                with Horizontal(classes="budget-row"):
                    yield Input(
                        type="integer", validators=[Integer(low, high)], id=name, compact=True
                    )
                    yield Label("", id=f"{name}-error", classes="budget-error")
            yield Label("Dry run by default")
            with Horizontal(classes="switch-row"):
                yield Switch(id="dry_run_default")
                yield Label("", id="dry_run_default-state", classes="switch-state")
            yield Label("Lockdown (refuse every execution)")
            with Horizontal(id="lockdown-row"):
                yield Switch(id="lockdown")
                yield Label("", id="lockdown-state")

    def reload(self) -> None:
        self._load()

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            config = await self.eng.config()
            on_, why = await self.eng.lockdown()
        except engine.EngineError as err:
            self.report(err)
            return
        self.config = config
        with self.prevent(Select.Changed, Switch.Changed):
            self.query_one("#approval_mode", Select).value = config.approval_mode
            for name in SWITCHES:
                self.query_one(f"#{name}", Switch).value = getattr(config, name)
                self._say_switch(name, getattr(config, name))
            lockdown = self.query_one("#lockdown", Switch)
            lockdown.value = on_
            lockdown.disabled = why == "SECURITY_LOCKDOWN_MODE"
        for name in BUDGETS:
            field = self.query_one(f"#{name}", Input)
            if not field.has_focus:
                field.value = str(getattr(config, name))
        state = self.query_one("#lockdown-state", Label)
        if why == "SECURITY_LOCKDOWN_MODE":
            state.update("ON — forced by SECURITY_LOCKDOWN_MODE (change the environment)")
        else:
            state.update("ON — every run is refused" if on_ else "off")
        self.query_one("#policy-note", Static).update(
            "Switches apply at once; budgets apply with Save (ctrl+s) or Enter. "
            "Every change is audited with your name."
        )

    @on(Select.Changed, "#approval_mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        if (
            isinstance(event.value, str)
            and self.config
            and event.value != self.config.approval_mode
        ):
            self._update({"approval_mode": event.value})

    def _say_switch(self, name: str, value: bool) -> None:
        label = self.query_one(f"#{name}-state", Label)
        label.update("on" if value else "off")
        label.set_class(value, "-on")

    @on(Switch.Changed, "#require_approval_for_risky, #dry_run_default")
    def _switch_changed(self, event: Switch.Changed) -> None:
        if event.switch.id is not None:
            self._say_switch(event.switch.id, event.value)
            self._update({event.switch.id: event.value})

    @on(Switch.Changed, "#lockdown")
    def _lockdown_changed(self, event: Switch.Changed) -> None:
        self._confirm_lockdown(event.value)

    def action_toggle_lockdown(self) -> None:
        switch = self.query_one("#lockdown", Switch)
        if not switch.disabled:
            switch.toggle()

    @work(exclusive=True, group="lockdown")
    async def _confirm_lockdown(self, turn_on: bool) -> None:
        if turn_on:
            modal = ConfirmModal(
                "Turn lockdown ON?",
                "Every execution will be refused — tools, approvals and tasks — until it is off.",
                confirm="Lock down",
            )
        else:
            modal = ConfirmModal(
                "Turn lockdown OFF?",
                "Executions will be allowed again under the policy.",
                confirm="Lift lockdown",
            )
        if await self.app.push_screen_wait(modal):
            await self._apply({"lockdown": turn_on})
        self.reload()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save-budgets")
    def action_save_budgets(self) -> None:
        changes: dict[str, Any] = {}
        for name in BUDGETS:
            self.query_one(f"#{name}-error", Label).update("")
        for name in BUDGETS:
            field = self.query_one(f"#{name}", Input)
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                low, high = bounds(name)
                self.query_one(f"#{name}-error", Label).update(
                    f"{name}: must be a whole number from {low} to {high}"
                )
                field.focus()
                return
            changes[name] = int(field.value)
        if self.config and all(getattr(self.config, k) == v for k, v in changes.items()):
            self.notify("Budgets unchanged.", title="Policy")
            return
        self._update(changes)

    @work(group="update")
    async def _update(self, changes: dict[str, Any]) -> None:
        await self._apply(changes)
        self.reload()

    async def _apply(self, changes: dict[str, Any]) -> None:
        try:
            await self.eng.update_config(changes)
        except engine.EngineError as err:
            self.report(err)
            return
        shown = ", ".join(f"{k} = {v}" for k, v in changes.items())
        self.notify(shown, title="Policy updated")
        self.console.refresh_status()
