"""Tools: the catalog (name, risk, enabled, description); toggle with space, Enter to run.
The highlighted tool's description in full is under the list (the column cuts it with `…`)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

import engine
from daena_tui.console.render import agent_text  # upstream MCP descriptions are untrusted
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.styles import enabled_text, risk_text
from daena_tui.console.widgets.tables import ToolTable


class ToolsScreen(SectionScreen):
    SECTION = "tools"
    RELOAD_ON = (engine.ConfigChanged,)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_tool", "Enable/disable"),
        Binding("o", "open_run", "Run form", show=False),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tools: dict[str, engine.ToolInfo] = {}

    def compose_body(self) -> ComposeResult:
        table = ToolTable(id="tools-table", zebra_stripes=True)
        table.titled("Tool catalog")
        table.add_fit_column("Tool", key="name", width=18, flex=1, most=34)
        table.add_fit_column("Risk", key="risk", width=6)
        table.add_fit_column("Enabled", key="enabled", width=7)
        table.add_fit_column("Description", key="description", width=10, flex=3)
        yield table
        yield Static(id="tools-detail")

    def reload(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            infos = await self.eng.list_tools()
        except engine.EngineError as err:
            self.report(err)
            return
        table = self.query_one("#tools-table", DataTable)
        self.tools = {i.name: i for i in infos}
        current = self.current_tool()
        table.clear()
        for info in infos:
            table.add_row(
                info.name,
                risk_text(self.app, str(info.risk)),
                enabled_text(self.app, info.enabled),
                agent_text(info.description, max_lines=1, max_chars=300, more=""),
                key=info.name,
            )
        if current in self.tools:
            table.move_cursor(row=table.get_row_index(current))
        self._show_detail()

    @on(DataTable.RowHighlighted, "#tools-table")
    def _show_detail(self) -> None:
        info = self.tools.get(self.current_tool() or "")
        detail = self.query_one("#tools-detail", Static)
        if info is None:
            detail.update("")
            return
        # the description may be an upstream MCP server's (untrusted): literal, never markup
        text = Text(f"{info.name} · {info.risk} risk — ", style="bold")
        detail.update(text.append_text(agent_text(info.description, max_lines=3, more="")))

    def current_tool(self) -> str | None:
        return self.query_one("#tools-table", ToolTable).current_key()

    def action_toggle_tool(self) -> None:
        name = self.current_tool()
        if name is not None and name in self.tools:
            self._toggle(name, not self.tools[name].enabled)

    @work(group="toggle")
    async def _toggle(self, name: str, enabled: bool) -> None:
        try:
            await self.eng.set_tool_enabled(name, enabled)
        except engine.EngineError as err:
            self.report(err)
            return
        self.notify(f"{name} {'enabled' if enabled else 'disabled'}", title="Tools")
        self.reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        name = self.current_tool()
        if name is not None:
            self.run_worker(self.console.open_run_form(name), group="navigate")
