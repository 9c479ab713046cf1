"""Nodes: the registry (name, URL, enabled, health, latency, last seen), test connection,
add / edit / remove / enable-disable. Every change goes through `eng.nodes` (audited)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType

import engine
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.screens.modals.confirm import ConfirmModal
from daena_tui.console.screens.modals.prompt import PromptField, PromptModal
from daena_tui.console.styles import enabled_text, status_text
from daena_tui.console.widgets.tables import NodeTable, RowTable


class NodesScreen(SectionScreen):
    SECTION = "nodes"
    RELOAD_ON = (engine.NodeChanged, engine.NodeHealthChanged)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "test", "Test", tooltip="Test connection"),
        Binding("T", "test_all", "Test all"),
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit", show=False),  # Enter edits too (in the footer)
        Binding("space", "toggle_node", "On/off", tooltip="Enable/disable"),
        Binding("x", "remove", "Remove"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[str, Any] = {}
        self.arrived: list[str] = []  # nodes in the order their probe answers arrived

    def compose_body(self) -> ComposeResult:
        table = NodeTable(id="nodes-table")  # columns share the width (widgets/tables.py)
        table.titled("Nodes")
        table.add_fit_column("Node", key="name", width=8, flex=1, most=20)
        table.add_fit_column("URL", key="url", width=12, flex=3, most=40)
        table.add_fit_column("Enabled", key="enabled", width=7)
        table.add_fit_column("Health", key="status", width=7, flex=1, most=12)
        table.add_fit_column("Latency", key="latency", width=7)
        table.add_fit_column("Last seen", key="seen", width=14)
        table.add_fit_column("Platform / message", key="detail", width=8, flex=3)
        yield table

    def reload(self) -> None:
        self._load()

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            items = await self.eng.nodes.list()
        except engine.EngineError as err:
            self.report(err)
            return
        self.nodes = {n.name: n for n in items}
        table = self.query_one("#nodes-table", RowTable)
        keep = table.current_key()
        table.clear()
        for n in items:
            detail = n.message or " ".join(
                p for p in (n.platform, n.version and f"v{n.version}") if p
            )
            table.add_row(
                n.name,
                n.url,
                enabled_text(self.app, n.enabled),
                status_text(self.app, n.status),
                "" if n.latency_ms is None else f"{n.latency_ms:.0f} ms",
                self.clock.short(n.last_seen) or "never",
                detail or "",
                key=n.name,
            )
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))

    def on_data_table_row_selected(self, event: RowTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def _current(self) -> str | None:
        return self.query_one("#nodes-table", RowTable).current_key()

    @work(exclusive=True, group="probe")
    async def action_test_all(self) -> None:
        """Probe every enabled node at once (engine/nodes/registry.py `probe_each`): each
        row shows its node's answer as it arrives; a hung node holds back only its own."""
        self.notify("Testing every enabled node…", title="Nodes", timeout=2)
        table = self.query_one("#nodes-table", RowTable)
        reports: dict[str, engine.NodeHealthReport] = {}
        try:
            async for name, report in self.eng.nodes.probe_each():
                reports[name] = report
                if name in table.rows:
                    self.arrived.append(name)
                    table.update_cell(name, "status", status_text(self.app, report.status))
                    latency = "" if report.latency_ms is None else f"{report.latency_ms:.0f} ms"
                    table.update_cell(name, "latency", latency)
                    table.update_cell(name, "detail", report.message)
        except engine.EngineError as err:
            self.report(err)
            return
        answered = sum(1 for r in reports.values() if r.ok)
        self.notify(
            f"{answered} of {len(reports)} enabled nodes answered.",
            title="Node health",
            severity="information" if answered == len(reports) else "warning",
        )
        self.reload()

    @work(exclusive=True, group="probe")
    async def action_test(self) -> None:
        name = self._current()
        if name is None:
            return
        self.notify(f"Testing {name}…", title="Nodes", timeout=2)
        try:
            report = await self.eng.nodes.probe(name)
        except engine.EngineError as err:
            self.report(err)
            return
        latency = "" if report.latency_ms is None else f" in {report.latency_ms:.0f} ms"
        self.notify(
            f"{name}: {report.status}{latency}. {report.message}".strip(),
            title="Node health",
            severity="information" if report.ok else "warning",
        )
        self.reload()

    @work(group="edit")
    async def action_add(self) -> None:
        await self._edit(None)

    @work(group="edit")
    async def action_edit(self) -> None:
        name = self._current()
        if name is not None:
            await self._edit(name)

    async def _edit(self, name: str | None) -> None:
        node = self.nodes.get(name or "")
        fields = [
            PromptField("url", "URL", node.url if node else "http://127.0.0.1:18888"),
            PromptField("token", "Token (blank: keep the current one)", password=True),
        ]
        if name is None:
            fields.insert(0, PromptField("name", "Name", placeholder="e.g. windows-2"))
        operator = self.eng.operator
        saved: list[Any] = []

        async def save(values: dict[str, str]) -> str | None:
            """Bad input keeps the dialog open, the message under its field."""
            try:
                if name is None:
                    node_saved = await self.eng.nodes.add(
                        values["name"], values["url"], values["token"] or None, operator=operator
                    )
                else:
                    url = values["url"] if node is None or values["url"] != node.url else None
                    node_saved = await self.eng.nodes.update(
                        name, url=url, token=values["token"] or None, operator=operator
                    )
            except engine.EngineError as err:
                return err.message
            saved.append(node_saved)
            return None

        title = "Add node" if name is None else f"Edit node {name}"
        values = await self.app.push_screen_wait(
            PromptModal(title, fields, submit="Save", check=save)
        )
        if not values or not saved:
            return
        self.notify(f"{saved[0].name} saved ({saved[0].url})", title="Nodes", markup=False)
        self.reload()

    @work(group="edit")
    async def action_toggle_node(self) -> None:
        name = self._current()
        node = self.nodes.get(name or "")
        if node is None:
            return
        try:
            await self.eng.nodes.update(
                node.name, enabled=not node.enabled, operator=self.eng.operator
            )
        except engine.EngineError as err:
            self.report(err)
            return
        self.reload()

    @work(group="edit")
    async def action_remove(self) -> None:
        name = self._current()
        if name is None:
            return
        if await self.app.push_screen_wait(
            ConfirmModal(
                f"Remove node {name}?", "Node tools will no longer reach it.", confirm="Remove"
            )
        ):
            try:
                await self.eng.nodes.remove(name, operator=self.eng.operator)
            except engine.EngineError as err:
                self.report(err)
                return
            self.notify(f"{name} removed", title="Nodes")
            self.reload()
