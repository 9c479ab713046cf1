"""Tools: the catalog (name, risk, enabled, pin, description); toggle with space, Enter to
run. Our own tools first; then each upstream MCP server's tools under a row naming the
server, with their pinning state (pinned / changed — disabled until re-enabled / not
pinned). Under the list, the highlighted tool's description in full, and for a tool whose
definition changed the pinned and the new definitions side by side. Upstream text
(descriptions, schemas, endpoints) is untrusted: shown inert, never as markup.

Before the engine is open, the list may be the built-in tools as stored (`app.preview`,
engine/tools/preview.py): drawn at once, marked "Opening the engine…", replaced by the
engine's answer as soon as it is open; until then no key acts on it. This module imports
no pydantic for that reason: what it needs of the upstream store is for type checks only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

import engine
from daena_tui.console.render import agent_text
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.styles import enabled_text, risk_text, status_text, tone
from daena_tui.console.widgets.pin_view import definitions, pin_summary, pin_text
from daena_tui.console.widgets.virtual_table import Row, ToolTable

if TYPE_CHECKING:
    from engine.upstream.store import Server, UpstreamTool

SERVER_KEY = "server:"
"""Row keys of the server header rows (never a tool name: those have no colon)."""
STILL_OPENING = "The engine is still opening: nothing is toggled or run until it is."
OPENING_NOTE = (
    "Opening the engine… the list is as stored; toggling and running wait until it is open."
)


class Listed(Protocol):
    """What a tool's row shows: the engine's `ToolInfo`, or the preview's `PreviewTool`."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def risk(self) -> str: ...
    @property
    def enabled(self) -> bool: ...


class ToolsScreen(SectionScreen):
    SECTION = "tools"
    AUTO_FOCUS = "#tools-table"
    MAIN = "#tools-table"  # a VirtualTable, not a DataTable: named for Escape to return to

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_tool", "Enable/disable"),
        Binding("o", "open_run", "Run form", show=False),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tools: dict[str, engine.ToolInfo] = {}
        self.upstream: dict[str, UpstreamTool] = {}
        # The rows are the preview's (as stored) until the engine's own list is drawn.
        self.preliminary = False

    def reload_on(self) -> tuple[type[engine.Event], ...]:
        # Not a class constant: this screen is drawn before the engine's modules load (the
        # event classes are ~10 ms of dataclasses on the way to "Tools listed").
        return (engine.ConfigChanged,)

    def compose_body(self) -> ComposeResult:
        table = ToolTable(id="tools-table")
        table.titled("Tool catalog")
        table.add_fit_column("Tool", key="name", width=18, flex=1, most=34)
        table.add_fit_column("Risk", key="risk", width=6)
        table.add_fit_column("Enabled", key="enabled", width=7)
        table.add_fit_column("Pin", key="pin", width=10)
        table.add_fit_column("Description", key="description", width=10, flex=3)
        yield table
        yield Static(id="tools-detail")

    def reload(self) -> None:
        if self.console.engine is None:
            self._show_preview()
            return
        self._load()

    def _show_preview(self) -> None:
        """The built-in tools as stored, while the engine opens (never acted on)."""
        rows = self.console.preview
        table = self.query_one("#tools-table", ToolTable)
        if not rows or (self.preliminary and table.row_count):
            return  # nothing to show, or shown already (a mode's first show resumes twice)
        table.set_rows([self._tool_row(row, None) for row in rows], keep_cursor=False)
        self.preliminary = True
        self._show_detail()
        self.console.preview_drawn(self)

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            infos = await self.eng.list_tools()  # syncs the upstream catalogue first
            servers = await self.eng.upstream.store.servers()
            upstream = await self.eng.upstream.store.tools()
        except engine.EngineError as err:
            self.report(err)
            if self.preliminary:  # the stored list is not shown as the engine's
                self.query_one("#tools-table", ToolTable).set_rows([])
                self.preliminary = False
                self._show_detail()
            return
        self.preliminary = False
        self.tools = {i.name: i for i in infos}
        self.upstream = {t.name: t for t in upstream if t.name in self.tools}
        rows = [self._tool_row(i, None) for i in infos if i.name not in self.upstream]
        for server in servers:
            rows.append(self._server_row(server))
            for tool in upstream:
                if tool.server == server.name and tool.name in self.tools:
                    rows.append(self._tool_row(self.tools[tool.name], tool))
        self.query_one("#tools-table", ToolTable).set_rows(rows)  # the cursor stays on its row
        self._show_detail()

    def _tool_row(self, info: Listed, tool: UpstreamTool | None) -> Row:
        return (
            info.name,
            (
                Text(("  " if tool else "") + info.name),
                risk_text(self.app, str(info.risk)),
                enabled_text(self.app, info.enabled),
                pin_text(self.app, tool.pin_state) if tool else "",
                agent_text(info.description, max_lines=1, max_chars=300, more=""),
            ),
        )

    def _server_row(self, server: Server) -> Row:
        via = "http" if server.endpoint.url else "stdio"
        where = agent_text(server.endpoint.describe(), max_lines=1, max_chars=200, more="")
        return (
            SERVER_KEY + server.name,
            (
                Text(f"▸ {server.name}", style="bold"),
                "",
                "",
                status_text(self.app, server.state, server.state or "—"),
                tone(self.app, "text-muted", f"MCP server · {via} · ").append_text(where),
            ),
        )

    @on(ToolTable.RowHighlighted, "#tools-table")
    def _show_detail(self) -> None:
        key = self.current_key() or ""
        info = self.tools.get(key)
        detail = self.query_one("#tools-detail", Static)
        if self.preliminary:
            detail.update(tone(self.app, "text-muted", OPENING_NOTE))
            return
        tool = self.upstream.get(key)
        changed = tool is not None and tool.changed is not None
        if changed != detail.has_class("pin-changed"):  # the pane grows or shrinks, and
            detail.set_class(changed, "pin-changed")  # the table with it: keep the row seen
            self.call_after_refresh(self._keep_cursor_seen)
        if info is None:
            detail.update("")
            return
        # the description may be an upstream MCP server's (untrusted): literal, never markup
        text = Text(f"{info.name} · {info.risk} risk — ", style="bold")
        text.append_text(agent_text(info.description, max_lines=3, more=""))
        if tool is None:
            detail.update(text)
            return
        state = pin_text(self.app, tool.pin_state).append(f" · {pin_summary(tool)}")
        detail.update(Group(state, definitions(tool)) if changed else Group(text, state))

    def _keep_cursor_seen(self) -> None:
        table = self.query_one("#tools-table", ToolTable)
        if table.row_count:
            table.move_cursor(row=table.cursor_row, scroll=True)

    def current_key(self) -> str | None:
        return self.query_one("#tools-table", ToolTable).current_key()

    def current_tool(self) -> str | None:
        """The highlighted tool's name (None on a server's row)."""
        key = self.current_key()
        return key if key in self.tools else None

    def refused_while_opening(self) -> bool:
        """True (and the operator told why) while the rows are the preview's."""
        if self.preliminary:
            self.notify(STILL_OPENING, title="Starting", severity="warning", markup=False)
        return self.preliminary

    def action_toggle_tool(self) -> None:
        if self.refused_while_opening():
            return
        name = self.current_tool()
        if name is not None:
            self._toggle(name, not self.tools[name].enabled)

    @work(group="toggle")
    async def _toggle(self, name: str, enabled: bool) -> None:
        try:
            if enabled and name in self.upstream:  # pins what the upstream lists now
                tool = await self.eng.upstream.enable(name, None, self.eng.operator)
                message = f"{name} pinned and enabled (risk {tool.risk})"
            else:
                await self.eng.set_tool_enabled(name, enabled)
                message = f"{name} {'enabled' if enabled else 'disabled'}"
        except engine.EngineError as err:
            self.report(err)
            return
        self.notify(message, title="Tools", markup=False)
        self.reload()

    @on(ToolTable.RowSelected, "#tools-table")
    def _selected(self, event: ToolTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        if self.refused_while_opening():
            return
        name = self.current_tool()
        if name is not None:
            self.run_worker(self.console.open_run_form(name), group="navigate")
