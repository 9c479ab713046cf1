"""Run: pick a tool, fill the form built from its schema, run or dry-run it, read the result."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Switch

import engine
from daena_tui.console.render import agent_text
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.screens.modals.confirm import ConfirmModal
from daena_tui.console.widgets.result_view import ResultView
from daena_tui.console.widgets.schema_form import SchemaForm


class RunScreen(SectionScreen):
    SECTION = "run"
    MAIN = "#run-tool"
    RELOAD_ON = (engine.ConfigChanged,)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Run", priority=True),
        Binding("ctrl+d", "toggle_dry_run", "Dry run", priority=True),
        Binding("ctrl+g", "run_granted", "Grant & run", priority=True),
        Binding("ctrl+l", "clear_form", "Clear form"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tool: str | None = None
        self._tools: list[engine.ToolInfo] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="run-bar"):
            yield Select[str]([], prompt="choose a tool", id="run-tool", compact=True)
            yield Label("dry run", id="dry-run-label")
            yield Switch(id="dry-run")
            yield Button("Run", variant="primary", id="run-button", compact=True)
        yield Label("", id="run-tool-info")
        form = VerticalScroll(id="run-form")
        form.border_title = "Arguments"
        yield form
        yield ResultView(id="run-result")

    def reload(self) -> None:
        self._load_tools()

    @work(exclusive=True, group="load")
    async def _load_tools(self) -> None:
        try:
            tools = await self.eng.list_tools()
            config = await self.eng.config()
        except engine.EngineError as err:
            self.report(err)
            return
        # `_tools` and the selector's options change together, with no await between them:
        # `select_tool` reads one to decide it may set the other
        self._tools = tools
        select = self.query_one("#run-tool", Select)
        with self.prevent(Select.Changed):
            select.set_options((t.name, t.name) for t in self._tools)
            # the tool shown may have left the catalogue meanwhile (a policy change, an
            # upstream removed): the selector then shows no choice rather than raising
            if self.tool is not None and self._info() is not None:
                select.value = self.tool
        if self.tool is None:
            with self.prevent(Switch.Changed):
                self.query_one("#dry-run", Switch).value = config.dry_run_default
        self._show_info()

    def _info(self) -> engine.ToolInfo | None:
        return next((t for t in self._tools if t.name == self.tool), None)

    def _show_info(self) -> None:
        info = self._info()
        label = self.query_one("#run-tool-info", Label)
        if info is None:
            label.update("Choose a tool above, or press Enter on one in Tools (1).")
            return
        state = "enabled" if info.enabled else "disabled (enable it in Tools)"
        # the description may be an upstream MCP server's (untrusted): literal, never markup
        label.update(
            Text(f"{info.name} · risk {info.risk} · {state} — ").append_text(
                agent_text(info.description, max_lines=2, more="")
            )
        )

    def action_select_tool(self, name: str) -> None:
        """Show `name`'s form (called from Tools and the command palette)."""
        select = self.query_one("#run-tool", Select)
        if self._tools and name not in {t.name for t in self._tools}:
            self.notify(f"tool: unknown tool {name!r}", title="Not found", severity="error")
            return
        with self.prevent(Select.Changed):
            if self._tools:
                select.value = name
        self._build_form(name)

    @on(Select.Changed, "#run-tool")
    def _tool_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._build_form(event.value)

    @work(exclusive=True, group="form")
    async def _build_form(self, name: str) -> None:
        try:
            spec = self.eng.registry.get(name)
            config = await self.eng.config()
            nodes = (
                await self._node_names()
                if "node" in spec.json_schema().get("properties", {})
                else []
            )
        except engine.EngineError as err:
            self.report(err)
            return
        self.tool = name
        container = self.query_one("#run-form", VerticalScroll)
        await container.remove_children()
        form = SchemaForm(spec.json_schema(), nodes=nodes)
        await container.mount(form)
        with self.prevent(Switch.Changed):
            self.query_one("#dry-run", Switch).value = config.dry_run_default
        self._show_info()
        # The first thing typed goes into the first argument, not into the tool selector.
        fields = [w for w in form.query("Input, TextArea, Select, Switch") if w.focusable]
        (fields[0] if fields else self.query_one("#run-button", Button)).focus()

    async def _node_names(self) -> list[str]:
        return [node.name for node in await self.eng.nodes.list()]

    def action_clear_form(self) -> None:
        if self.tool is not None:
            self._build_form(self.tool)

    def action_toggle_dry_run(self) -> None:
        switch = self.query_one("#dry-run", Switch)
        switch.value = not switch.value

    @on(Input.Submitted, "#run-form Input")
    def _next_field(self, event: Input.Submitted) -> None:
        """Enter in a field goes on to the next one; running takes ctrl+r or the button."""
        event.stop()
        self.focus_next()

    @on(Button.Pressed, "#run-button")
    def _run_pressed(self) -> None:
        self.action_run()

    def _form_args(self) -> dict[str, Any] | None:
        forms = self.query(SchemaForm)
        if self.tool is None or not forms:
            self.notify("Choose a tool first.", title="Run", severity="warning")
            return None
        try:
            return forms.first().values()
        except engine.EngineError as err:
            self.report(err)
            return None

    def action_run(self) -> None:
        args = self._form_args()
        if self.tool is not None and args is not None:
            self._run(self.tool, args, self.query_one("#dry-run", Switch).value)

    @work(exclusive=True, group="run")
    async def action_run_granted(self) -> None:
        """A risky run by the operator: approve this exact call with a single-use grant."""
        args = self._form_args()
        tool = self.tool
        if tool is None or args is None:
            return
        confirmed = await self.app.push_screen_wait(
            ConfirmModal(
                f"Grant and run {tool}?",
                "You approve this exact call yourself (a single-use grant, audited under "
                "your name), and it runs now.",
                confirm="Grant & run",
            )
        )
        if not confirmed:
            return
        try:
            grant = await self.eng.grant(tool, args)
        except engine.EngineError as err:
            self.report(err)
            return
        await self._execute(tool, args, False, grant.id)

    @work(exclusive=True, group="run")
    async def _run(self, tool: str, args: dict[str, Any], dry_run: bool) -> None:
        await self._execute(tool, args, dry_run, None)

    async def _execute(
        self, tool: str, args: dict[str, Any], dry_run: bool, grant_id: str | None
    ) -> None:
        view = self.query_one(ResultView)
        view.show_running(tool)
        request = engine.RunRequest(
            tool=tool,
            args=args,
            dry_run=dry_run,
            approval_id=grant_id,
            requester=self.eng.operator,
        )
        try:
            result = await self.eng.run(request)
        except engine.EngineError as err:
            view.status = "error"
            self.report(err)
            return
        view.show(result)
        if result.status == engine.RunStatus.PENDING_APPROVAL:
            self.notify(
                "It waits in the inbox (alt+3) for another operator's decision; "
                "ctrl+g runs it with a grant from you instead.",
                title="Needs approval",
            )
