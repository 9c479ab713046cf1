"""Approvals: the inbox (soonest expiry first, live time left), the exact arguments of the
selected request, approve (a) / deny (d) through a decision modal, and the history (h)."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import ContentSwitcher, DataTable, Label, Static

import engine
from daena_tui.clock import time_left
from daena_tui.render import render_args
from daena_tui.screens.base import SectionScreen
from daena_tui.screens.modals.decision import DecisionModal
from daena_tui.styles import risk_text, status_text, tone

Row = DataTable[str | Text]


class ApprovalsScreen(SectionScreen):
    SECTION = "approvals"
    RELOAD_ON = (engine.ApprovalRequested, engine.ApprovalDecided, engine.RunFinished)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve"),
        Binding("d", "deny", "Deny"),
        Binding("h", "toggle_history", "Inbox/History"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[str, engine.ApprovalRequest] = {}
        self.history: dict[str, engine.ApprovalRequest] = {}
        self.selected: engine.ApprovalRequest | None = None

    def compose_body(self) -> ComposeResult:
        yield Label("", id="approvals-title")
        with ContentSwitcher(initial="inbox", id="approvals-lists"):
            inbox: Row = DataTable(id="inbox", cursor_type="row")
            inbox.add_column("Left", key="left", width=7)
            inbox.add_column("Tool", key="tool", width=22)
            inbox.add_column("Risk", key="risk", width=6)
            inbox.add_column("Requester", key="requester", width=12)
            inbox.add_column("Reason", key="reason")
            yield inbox
            history: Row = DataTable(id="history", cursor_type="row")
            history.add_column("Decided", key="decided", width=14)
            history.add_column("Decision", key="status", width=8)
            history.add_column("Tool", key="tool", width=22)
            history.add_column("By", key="by", width=14)
            history.add_column("Run", key="run", width=8)
            history.add_column("Reason", key="reason")
            yield history
        with VerticalScroll(id="approval-detail-scroll"):
            yield Static(id="approval-detail")

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def reload(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.reload()

    @property
    def showing_history(self) -> bool:
        return self.query_one(ContentSwitcher).current == "history"

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        try:
            pending = await self.eng.approvals.list("pending")
            decided = (
                [] if not self.showing_history else await self.eng.approvals.list(None, limit=300)
            )
        except engine.EngineError as err:
            self.report(err)
            return
        self.pending = {r.id: r for r in pending}
        self._fill_inbox()
        if self.showing_history:
            self.history = {r.id: r for r in decided if r.status != "pending" or not r.is_pending}
            self._fill_history()
        self._show_title()
        self._show_selected()

    def _fill_inbox(self) -> None:
        table = self.query_one("#inbox", DataTable)
        keep = self._cursor_key(table)
        table.clear()
        now = self.clock.now()
        for r in self.pending.values():
            table.add_row(
                time_left(r.seconds_left(now)),
                r.tool,
                risk_text(self.app, self._risk(r.tool)),
                r.requester,
                r.reason,
                key=r.id,
            )
        self._restore_cursor(table, keep)

    def _fill_history(self) -> None:
        table = self.query_one("#history", DataTable)
        keep = self._cursor_key(table)
        table.clear()
        for r in self.history.values():
            status = r.status if r.status != "pending" else "expired"
            table.add_row(
                self.clock.short(r.decided_at or r.expires_at),
                status_text(self.app, status),
                r.tool,
                r.decided_by or "",
                status_text(self.app, r.run_status) if r.run_status else "",
                r.decision_reason or "",
                key=r.id,
            )
        self._restore_cursor(table, keep)

    def _risk(self, tool: str) -> str:
        try:
            return str(self.eng.registry.get(tool).risk)
        except engine.EngineError:
            return "?"

    @staticmethod
    def _cursor_key(table: DataTable[str | Text]) -> str | None:
        if not table.row_count:
            return None
        value = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if value is None else str(value)

    @staticmethod
    def _restore_cursor(table: DataTable[str | Text], key: str | None) -> None:
        if key is not None and key in table.rows:
            table.move_cursor(row=table.get_row_index(key))

    def _show_title(self) -> None:
        if self.showing_history:
            text = f"History — {len(self.history)} decided requests (h: back to the inbox)"
        else:
            text = f"Inbox — {len(self.pending)} pending, soonest expiry first (a approve · d deny)"
        self.query_one("#approvals-title", Label).update(text)

    def _tick(self) -> None:
        """Every second: count down the time-left column; drop requests that expired."""
        if not self.pending:
            return
        table = self.query_one("#inbox", DataTable)
        now = self.clock.now()
        expired = False
        for r in self.pending.values():
            left = r.seconds_left(now)
            expired = expired or left <= 0
            if r.id in table.rows:
                table.update_cell(r.id, "left", time_left(left))
        if expired:
            self.reload()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        source = self.pending if event.data_table.id == "inbox" else self.history
        self.selected = source.get(str(key)) if key is not None else None
        self._show_selected()

    def _show_selected(self) -> None:
        table = self.query_one("#history" if self.showing_history else "#inbox", DataTable)
        key = self._cursor_key(table)
        source = self.history if self.showing_history else self.pending
        self.selected = source.get(key) if key else None
        detail = self.query_one("#approval-detail", Static)
        detail.update(
            self._detail(self.selected)
            if self.selected
            else Text("No request selected.", style="dim")
        )

    def _detail(self, r: engine.ApprovalRequest) -> RenderableType:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        facts: list[tuple[str, str | Text]] = [
            ("request", r.id),
            ("tool", r.tool),
            ("risk", risk_text(self.app, self._risk(r.tool))),
            ("requester", r.requester),
            ("reason", r.reason),
            ("created", self.clock.format(r.created_at)),
            ("expires", self.clock.format(r.expires_at)),
            ("status", status_text(self.app, r.status)),
            ("decided by", r.decided_by or ""),
            ("decided", self.clock.format(r.decided_at)),
            ("why", r.decision_reason or ""),
            ("run", r.run_status or ""),
            ("task", r.task_id or ""),
        ]
        for key, value in facts:
            if value:
                grid.add_row(key, value)
        heading = tone(self.app, "accent", "\nexact arguments (this is what runs)", bold=True)
        return Group(grid, heading, render_args(r.args))

    def action_toggle_history(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "inbox" if self.showing_history else "history"
        self.query_one(f"#{switcher.current}", DataTable).focus()
        self.reload()

    def action_approve(self) -> None:
        self._decide("approve")

    def action_deny(self) -> None:
        self._decide("deny")

    @work(exclusive=True, group="decide")
    async def _decide(self, intent: str) -> None:
        request = self.selected
        if request is None or self.showing_history or request.id not in self.pending:
            self.notify("Select a pending request in the inbox first.", title="Approvals")
            return
        left = request.seconds_left(self.clock.now())
        decision = await self.app.push_screen_wait(
            DecisionModal(request, intent=intent, seconds_left=left)
        )
        if decision is None:
            return
        try:
            if decision.approve:
                result = await self.eng.approve(request.id, reason=decision.reason)
                detail = f" — {result.error}" if result.error else ""
                self.notify(
                    f"{request.tool} ran once: {result.status}{detail}",
                    title="Approved",
                    severity="information" if result.ok else "warning",
                )
            else:
                await self.eng.deny(request.id, decision.reason)
                self.notify(f"{request.tool} will not run.", title="Denied")
        except engine.EngineError as err:
            self.report(err)
        self.reload()
