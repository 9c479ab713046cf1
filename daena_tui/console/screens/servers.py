"""Servers: the MCP gateway at a glance (docs/mcp.md).

MCP clients that called `daena mcp serve` (agent, client name, since, calls, requests they
wait on), the upstream servers behind the gate, and every upstream tool with its pinning
state: a tool whose definition changed shows the pinned and the new description side by
side, and below the table, for the highlighted tool, the whole pinned and new definitions
(description and input schema) side by side. Space pins the tool's current definition and
enables it, or disables it. Client names, endpoints, descriptions and schemas are untrusted
text, shown inert.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

import engine
from daena_tui.console.render import agent_text
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.styles import enabled_text, risk_text, status_text, tone
from daena_tui.console.widgets.pin_view import definitions, pin_text
from daena_tui.console.widgets.tables import RowTable
from engine.mcp_sessions import McpSessions
from engine.upstream.store import UpstreamTool

REFRESH_SEC = 2.0


def _cell(text: str, chars: int = 80) -> Text:
    return agent_text(text, max_lines=1, max_chars=chars, more="")


class ServersScreen(SectionScreen):
    SECTION = "servers"
    RELOAD_ON = (engine.ConfigChanged, engine.ApprovalRequested, engine.ApprovalDecided)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_tool", "Pin+enable/disable"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tools: dict[str, tuple[UpstreamTool, bool]] = {}

    def compose_body(self) -> ComposeResult:
        yield Label("MCP clients", classes="servers-title")
        clients = RowTable(id="mcp-clients")
        for name, width, flex in (  # columns share the width (widgets/tables.py)
            ("Session", 10, 1),
            ("Agent", 10, 2),
            ("Client", 8, 2),
            ("Via", 5, 0),
            ("Since", 8, 1),
            ("Calls", 5, 0),
            ("Waiting", 7, 0),
            ("Orphaned", 8, 0),
            ("State", 6, 0),
        ):
            clients.add_fit_column(name, key=name.lower(), width=width, flex=flex, most=24)
        yield clients
        yield Label("Upstream servers", classes="servers-title")
        servers = RowTable(id="mcp-servers")
        servers.add_fit_column("Server", key="name", width=8, flex=1, most=20)
        servers.add_fit_column("Via", key="via", width=5)
        servers.add_fit_column("Command or URL", key="endpoint", width=8, flex=3)
        servers.add_fit_column("Tools", key="tools", width=5)
        servers.add_fit_column("On", key="on", width=3)
        servers.add_fit_column("Changed", key="changed", width=7)
        servers.add_fit_column("State", key="state", width=7, flex=1, most=12)
        servers.add_fit_column("Restarts", key="restarts", width=8)
        servers.add_fit_column("Last error", key="error", width=6, flex=2)
        yield servers
        yield Label("Upstream tools", classes="servers-title")
        tools = RowTable(id="mcp-tools")
        tools.add_fit_column("Tool", key="name", width=12, flex=2, most=28)
        tools.add_fit_column("Risk", key="risk", width=6)
        tools.add_fit_column("Enabled", key="enabled", width=7)
        tools.add_fit_column("Pin", key="pin", width=8)
        tools.add_fit_column("Description (pinned)", key="description", width=8, flex=3)
        tools.add_fit_column("Changed to", key="changed", width=6, flex=2)
        yield tools
        yield Static(id="mcp-definition")

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(REFRESH_SEC, self.reload)  # sessions change without an event

    def reload(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            sessions = await McpSessions(self.eng.db, self.eng.audit, self.eng.approvals).list()
            servers = await self.eng.upstream.store.servers()
            tools = await self.eng.upstream.store.tools()
            config = await self.eng.config()
        except engine.EngineError as err:
            self.report(err)
            return
        clients = self.query_one("#mcp-clients", RowTable)
        clients.clear()
        for s in sessions:
            clients.add_row(
                s.id,
                _cell(s.agent, 40),
                _cell(s.client, 40),
                s.transport,
                self.clock.short(s.started_at) or "",
                str(s.calls),
                tone(self.app, "warning", str(s.waiting)) if s.waiting else "0",
                tone(self.app, "warning", str(s.orphaned)) if s.orphaned else "0",
                "ended" if s.ended_at else "live",
                key=s.id,
            )
        table = self.query_one("#mcp-servers", RowTable)
        table.clear()
        for server in servers:
            mine = [t for t in tools if t.server == server.name]
            table.add_row(
                server.name,
                "http" if server.endpoint.url else "stdio",
                _cell(server.endpoint.describe(), 200),
                str(len(mine)),
                str(sum(config.enabled(t.name, False) for t in mine)),
                str(sum(t.pin_state == "changed" for t in mine)),
                status_text(self.app, server.state, server.state or "—"),
                str(server.restarts),
                _cell(server.last_error or "", 120),
                key=server.name,
            )
        tool_table = self.query_one("#mcp-tools", RowTable)
        keep = tool_table.current_key()
        tool_table.clear()
        self.tools = {}
        for tool in tools:
            enabled = config.enabled(tool.name, False)
            self.tools[tool.name] = (tool, enabled)
            shown = tool.pinned or tool.definition
            tool_table.add_row(
                tool.name,
                risk_text(self.app, str(tool.risk)),
                enabled_text(self.app, enabled),
                pin_text(self.app, tool.pin_state),
                _cell(shown.description),
                _cell(tool.changed.description) if tool.changed else "",
                key=tool.name,
            )
        if keep is not None and keep in tool_table.rows:
            tool_table.move_cursor(row=tool_table.get_row_index(keep))
        self._show_definition()

    @on(DataTable.RowHighlighted, "#mcp-tools")
    def _highlighted(self) -> None:
        self._show_definition()

    def _show_definition(self) -> None:
        """The highlighted tool's pinned definition beside the changed one (or alone)."""
        pane = self.query_one("#mcp-definition", Static)
        name = self.query_one("#mcp-tools", RowTable).current_key()
        entry = self.tools.get(name) if name else None
        pane.display = entry is not None
        if entry is not None:
            pane.update(definitions(entry[0]))

    def action_toggle_tool(self) -> None:
        name = self.query_one("#mcp-tools", RowTable).current_key()
        if name is not None and name in self.tools:
            self._toggle(name, not self.tools[name][1])

    @work(group="toggle")
    async def _toggle(self, name: str, enable: bool) -> None:
        try:
            if enable:  # pins what the upstream lists now (its new definition, if changed)
                tool = await self.eng.upstream.enable(name, None, self.eng.operator)
                message = f"{name} pinned and enabled (risk {tool.risk})"
            else:
                await self.eng.set_tool_enabled(name, False)
                message = f"{name} disabled"
        except engine.EngineError as err:
            self.report(err)
            return
        self.notify(message, title="Servers", markup=False)
        self.reload()
