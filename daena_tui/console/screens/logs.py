"""Logs: the audit log newest first, paged from SQLite (never loaded whole), filters,
live tail, detail (Enter), verify the hash chain (v), export to the cwd (e JSONL, c CSV).

The table is a `VirtualTable`: the live tail adds the new rows at the top of a bounded
window and draws only those, so an agent writing fast costs the same per record however
long the console runs. A text under three characters is scanned a bounded slice per page;
the info line then says how far back it searched, and `m` (or scrolling on) searches older."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Input, Label, Select

import engine
from daena_tui.console.messages import EngineEventReceived
from daena_tui.console.render import agent_cell
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.screens.modals.audit_detail import AuditDetailModal
from daena_tui.console.screens.modals.timeline import TimelineModal
from daena_tui.console.styles import status_text
from daena_tui.console.timefilter import parse_when
from daena_tui.console.widgets.steady import update_steady
from daena_tui.console.widgets.virtual_table import AuditTable, Row

PAGE = 100
TAIL_WINDOW = 500
"""Rows the live tail keeps: new records are added at the top and the oldest dropped below
this many (unless the cursor is further down), so each event costs the same however long
the console runs. Scrolling past the end loads them again, a page at a time."""
TAIL_INTERVAL_SEC = 0.25
BUSY_TAIL_INTERVAL_SEC = 1.0
BUSY_TAIL_ROWS = 4
"""The tail reads and redraws at most every TAIL_INTERVAL_SEC, and while records stream
in (more than BUSY_TAIL_ROWS at the last tail) every BUSY_TAIL_INTERVAL_SEC: a redraw of
the table is most of the console's cost, so at 50 records a second one redraw covers 50."""
STATUSES = (
    "ok",
    "started",
    "error",
    "timeout",
    "refused",
    "dry_run",
    "pending_approval",
    "approved",
    "denied",
    "expired",
    "interrupted",
)


class LogsScreen(SectionScreen):
    SECTION = "logs"
    AUTO_FOCUS = "#logs-table"
    MAIN = "#logs-table"  # a VirtualTable, not a DataTable: named for Escape to return to
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("ctrl+o", "clear_filters", "Clear", key_display="^o", tooltip="Clear filters"),
        Binding("f", "toggle_follow", "Tail", tooltip="Live tail on/off"),
        Binding("v", "verify", "Verify", tooltip="Verify chain (the audit hash chain)"),
        Binding("e", "export('jsonl')", "Export", tooltip="Export JSONL"),
        # In `?` and the palette; the footer at 80 columns has room for one export key.
        Binding("c", "export('csv')", "Export CSV", show=False),
        Binding("t", "timeline", "Timeline", show=False, tooltip="The selected record's run"),
        # The info line says when there is more: older records, or a short text's next slice.
        Binding("m", "more", "More rows", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.records: list[engine.AuditRecord] = []
        self.filters = engine.AuditFilter()
        self.exhausted = False
        self.scanned_to: int | None = None  # a short text's scan stopped here (see `more`)
        self.follow = True
        self.missed = 0
        self.busy = ""
        self.generation = 0  # bumped by every full reload; stale "load more" results are dropped
        self.tailing = False  # a tail query is in flight; events meanwhile ask for one more
        self.tail_again = False
        self.tail_timer: Timer | None = None
        self.last_tail = 0.0
        self.tail_interval = TAIL_INTERVAL_SEC

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="logs-filters"):  # one row: compact fields
            yield Input(placeholder="tool", id="filter-tool", compact=True)
            yield Select[str](
                [(s, s) for s in STATUSES], prompt="any status", id="filter-status", compact=True
            )
            yield Input(placeholder="text in args/errors/results", id="filter-text", compact=True)
            yield Input(placeholder="since (2h)", id="filter-since", compact=True)
            yield Input(placeholder="until", id="filter-until", compact=True)
        yield Label("", id="logs-info")
        table = AuditTable(id="logs-table")
        table.titled("Audit log, newest first")
        table.add_fit_column("#", key="id", width=5)
        table.add_fit_column("Time", key="time", width=14)
        table.add_fit_column("Actor", key="actor", width=8, flex=1, most=24)
        table.add_fit_column("Action", key="action", width=12, flex=2, most=24)
        table.add_fit_column("Tool", key="tool", width=10, flex=2, most=28)
        table.add_fit_column("Status", key="status", width=9, flex=1, most=16)
        table.add_fit_column("Detail", key="detail", width=6, flex=4)
        yield table

    def wants_event(self, event: engine.Event) -> bool:
        return isinstance(event, engine.AuditAppended)  # the tail's, never a reload

    def on_engine_event_received(self, message: EngineEventReceived) -> None:
        # RELOAD_ON is empty: the log tails new records instead of reloading.
        if isinstance(message.event, engine.AuditAppended):
            if self.follow:
                self._request_tail()
            else:
                self.missed += 1
                self._show_info()

    def reload(self) -> None:
        self._load_first()

    # -- loading --------------------------------------------------------------------------

    @work(exclusive=True, group="load")
    async def _load_first(self) -> None:
        self.generation += 1
        try:
            records = await self.eng.audit.page(self.filters, limit=PAGE)
        except engine.EngineError as err:
            self.report(err)
            return
        self.generation += 1
        self.records = records
        self.scanned_to = records.scanned_to
        self.exhausted = len(records) < PAGE and records.scanned_to is None
        self.missed = 0
        self._fill(keep_cursor=True)

    def action_more(self) -> None:
        """m: the next page of older records (for a short text, the next slice searched)."""
        if self.exhausted:
            self.notify("Every matching record is shown.", title="Logs")
        self._load_more()

    @work(exclusive=True, group="more")
    async def _load_more(self) -> None:
        if self.exhausted or (not self.records and self.scanned_to is None):
            return
        # A bounded scan continues where it stopped; otherwise below the oldest row.
        anchor = self.scanned_to if self.scanned_to is not None else self.records[-1].id
        generation, last = self.generation, self.records[-1].id if self.records else None
        try:
            older = await self.eng.audit.page(self.filters, before_id=anchor, limit=PAGE)
        except engine.EngineError as err:
            self.report(err)
            return
        if generation != self.generation or (self.records[-1].id if self.records else None) != last:
            return  # a reload replaced the list meanwhile
        self.scanned_to = older.scanned_to
        self.exhausted = len(older) < PAGE and older.scanned_to is None
        self.records.extend(older)
        self._table().append([self._row(rec) for rec in older])
        self._show_info()

    def _request_tail(self) -> None:
        """One tail query at a time, at most one every `tail_interval`: a burst of events
        becomes one query for everything newer than the top row (and one redraw)."""
        if self.tailing or self.tail_timer is not None:
            self.tail_again = True  # the tail in flight or due covers it, or one more will
            return
        wait = self.last_tail + self.tail_interval - time.monotonic()
        if wait > 0:
            self.tail_timer = self.set_timer(wait, self._start_tail)
        else:
            self._start_tail()

    def _start_tail(self) -> None:
        self.tail_timer = None
        self.tail_again = False
        self.tailing = True
        self.last_tail = time.monotonic()
        self._tail()

    @work(exclusive=True, group="tail")
    async def _tail(self) -> None:
        try:
            await self._tail_once()
        finally:
            self.tailing = False
        if self.tail_again:
            self.tail_again = False
            self._request_tail()

    async def _tail_once(self) -> None:
        top = self.records[0].id if self.records else 0
        try:  # only what is newer than the top row: cheap whatever the filter
            fresh = await self.eng.audit.page(self.filters, after_id=top, limit=PAGE)
        except engine.EngineError as err:
            self.report(err)
            return
        if not fresh or (self.records and self.records[0].id != top):
            return  # nothing new, or a reload replaced the list meanwhile
        if len(fresh) == PAGE and self.records:
            self.reload()  # a page or more arrived: start again from the newest
            return
        busy = len(fresh) > BUSY_TAIL_ROWS
        self.tail_interval = BUSY_TAIL_INTERVAL_SEC if busy else TAIL_INTERVAL_SEC
        self.records = fresh + self.records
        dropped = self._table().add_newest([self._row(rec) for rec in fresh], window=TAIL_WINDOW)
        if dropped:
            del self.records[len(self.records) - len(dropped) :]
            if self.scanned_to is None:
                self.exhausted = False  # scrolling down loads them again
            else:  # a short text's scan: carry on from the oldest row kept
                self.scanned_to = self.records[-1].id
        self._show_info()

    def _table(self) -> AuditTable:
        return self.query_one("#logs-table", AuditTable)

    def _fill(self, *, keep_cursor: bool) -> None:
        table = self._table()
        table.set_rows(
            [self._row(rec) for rec in self.records],
            keep_cursor=keep_cursor and table.cursor_row > 0,
        )
        self._show_info()

    def _row(self, rec: engine.AuditRecord) -> Row:
        detail = rec.error or rec.result_summary or ""
        return (  # actor, tool and detail may be the agent's words: inert, one line
            str(rec.id),
            (
                str(rec.id),
                self.clock.short(rec.ts),
                agent_cell(rec.actor, 60),
                rec.action,
                agent_cell(rec.tool or "", 60),
                status_text(self.app, rec.status),
                agent_cell(detail, 200),
            ),
        )

    def _show_info(self) -> None:
        parts = [f"{len(self.records)} records shown" + ("" if self.exhausted else " (more below)")]
        if self.scanned_to is not None:  # never a silently partial page: say how far, and how on
            parts[0] = (
                f"{len(self.records)} found in records #{self.scanned_to:,} and newer — "
                "m searches older (a text under 3 characters is scanned, not indexed)"
            )
        active = {k: v for k, v in vars(self.filters).items() if v not in (None, "")}
        if active:
            parts.append("filtered by " + ", ".join(sorted(active)))
        parts.append("live tail on" if self.follow else f"live tail off ({self.missed} new)")
        if self.busy:
            parts.append(self.busy)
        update_steady(self.query_one("#logs-info", Label), Text(" · ".join(parts)))

    def on_mount(self) -> None:
        # Mouse-wheel scrolling near the end fetches the next page too.
        self.watch(self._table(), "scroll_y", self._scrolled, init=False)

    def _scrolled(self, scroll_y: float) -> None:
        if scroll_y >= self._table().max_scroll_y - 5:
            self._load_more()

    @on(AuditTable.RowHighlighted, "#logs-table")
    def _near_end(self, event: AuditTable.RowHighlighted) -> None:
        if event.cursor_row >= event.table.row_count - 5:
            self._load_more()

    # -- filters --------------------------------------------------------------------------

    @on(Input.Submitted)
    @on(Select.Changed, "#filter-status")
    def _apply_filters(self) -> None:
        status = self.query_one("#filter-status", Select).value
        try:
            self.filters = engine.AuditFilter(
                tool=self.query_one("#filter-tool", Input).value.strip() or None,
                status=status if isinstance(status, str) else None,
                text=self.query_one("#filter-text", Input).value.strip() or None,
                since=parse_when(
                    self.query_one("#filter-since", Input).value, self.clock, field="since"
                ),
                until=parse_when(
                    self.query_one("#filter-until", Input).value, self.clock, field="until"
                ),
            )
        except engine.EngineError as err:
            self.report(err)
            return
        self.reload()

    def action_clear_filters(self) -> None:
        for widget in self.query("#logs-filters Input").results(Input):
            widget.value = ""
        with self.prevent(Select.Changed):
            self.query_one("#filter-status", Select).clear()
        self.filters = engine.AuditFilter()
        self.reload()

    def action_focus_filter(self) -> None:
        self.query_one("#filter-tool", Input).focus()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            self.reload()
        self._show_info()

    # -- detail, verify, export -----------------------------------------------------------

    @on(AuditTable.RowSelected, "#logs-table")
    def _selected(self) -> None:
        self.action_detail()

    def action_detail(self) -> None:
        key = self._table().current_key()
        if key is not None:
            self._open_detail(int(key))

    def action_timeline(self) -> None:
        """t: the run (trace) or the task of the selected record, as a timeline."""
        key = self._table().current_key()
        if key is not None:
            self._open_timeline(int(key))

    @work(group="detail")
    async def _open_timeline(self, record_id: int) -> None:
        try:
            record = await self.eng.audit.get(record_id)
        except engine.EngineError as err:
            self.report(err)
            return
        if record is None or not (record.trace_id or record.task_id):
            self.notify("This record belongs to no run or task.", title="Timeline")
            return
        trace = record.trace_id
        await self.app.push_screen(
            TimelineModal(self.clock, trace_id=trace, task_id=None if trace else record.task_id)
        )

    @work(group="detail")
    async def _open_detail(self, record_id: int) -> None:
        try:
            record = await self.eng.audit.get(record_id)
        except engine.EngineError as err:
            self.report(err)
            return
        if record is not None:
            await self.app.push_screen(AuditDetailModal(record, self.clock))

    @work(exclusive=True, group="verify")
    async def action_verify(self) -> None:
        self._busy("verifying the audit chain…")
        try:
            report = await self.eng.audit.verify()
        except engine.EngineError as err:
            self.report(err)
            return
        finally:
            self._busy("")
        if report.ok:
            self.notify(
                f"{report.checked} records checked; the chain is intact.", title="Audit chain OK"
            )
        else:
            self.notify(
                f"{report.problem} (first broken record #{report.first_broken_id}, "
                f"{report.checked} checked before it).",
                title="Audit chain BROKEN",
                severity="error",
                timeout=30,
            )

    @work(exclusive=True, group="export")
    async def action_export(self, fmt: str) -> None:
        path = Path.cwd() / f"daena-audit-{self.clock.stamp()}.{fmt}"
        self._busy(f"exporting to {path.name}…")
        try:
            out = await asyncio.to_thread(path.open, "x", encoding="utf-8", newline="")
            try:
                count = await self.eng.audit.export(out, fmt, self.filters)
            finally:
                out.close()
        except OSError as err:
            self.notify(f"{path}: {err.strerror}", title="Export failed", severity="error")
            return
        except engine.EngineError as err:
            self.report(err)
            return
        finally:
            self._busy("")
        self.notify(f"{count} records written to {path}", title="Audit log exported", timeout=15)

    def _busy(self, what: str) -> None:
        self.busy = what
        self._table().loading = bool(what)
        self._show_info()
