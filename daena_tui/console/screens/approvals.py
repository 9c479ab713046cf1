"""Approvals: the inbox (soonest expiry first, live time left), the exact arguments of the
selected request in a pane that gets the room (the list is as tall as its rows; a patch is
a coloured diff, a write its numbered content, a command its argv, drawn lazily so a 10 MB
patch never blocks the console; PgDn/PgUp scroll it while the list keeps the focus),
approve (a) and deny (d) through two single-purpose modals, every argument in full (v),
and the history (h), newest first.

Requester and reason are the agent's words: they are shown inert, after the arguments and
labelled as such. One decision at a time: while one is open or on its way to the engine,
a and d do nothing, so keys typed ahead cannot start another."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import ContentSwitcher, DataTable, Label, Static

import engine
from daena_tui.console.clock import time_left
from daena_tui.console.expiry import ExpiryWarnings
from daena_tui.console.marks import Marks
from daena_tui.console.render import agent_cell
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.screens.modals.bulk_review import BulkReviewModal, decide_all
from daena_tui.console.screens.modals.decision import ApproveModal, DenyModal
from daena_tui.console.screens.modals.request_view import RequestViewModal
from daena_tui.console.screens.modals.timeline import TimelineModal
from daena_tui.console.status import read_status
from daena_tui.console.styles import risk_text, status_text, tone
from daena_tui.console.widgets.advice import AdviceNote
from daena_tui.console.widgets.args_view import ArgsView
from daena_tui.console.widgets.decision_rule import DecisionRule
from daena_tui.console.widgets.live_table import LiveRows, capped, cut_short
from daena_tui.console.widgets.steady import update_steady
from daena_tui.console.widgets.tables import ListTable
from engine.events import ApprovalExtended
from engine.mcp_sessions import McpClientGone, McpSessions, McpWait
from engine.safety.display import inert_one_line

INBOX_PAGE = 500
EXTEND_BY = 600.0  # +: ten more minutes (engine/approvals.py bounds it)
HISTORY_PAGE = 300
ORPHANED = (
    "gone: it disconnected while waiting; approving still runs this once and the"
    " audit log keeps the result"
)


class ApprovalsScreen(SectionScreen):
    SECTION = "approvals"
    RELOAD_ON = (
        engine.ApprovalRequested,
        engine.ApprovalDecided,
        ApprovalExtended,  # here or in another console: the new expiry
        engine.ConfigChanged,  # the rule a pending request would meet (decided by: …)
        engine.RunFinished,
        McpClientGone,  # its waiting requests become orphaned
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve"),
        Binding("d", "deny", "Deny"),
        Binding(
            "pagedown",
            "scroll_args(1)",
            "Scroll",
            key_display="PgDn",
            priority=True,
            tooltip="Scroll the arguments a page (the list keeps the focus)",
        ),
        Binding("pageup", "scroll_args(-1)", "Scroll args up", show=False, priority=True),
        Binding("v", "view_all", "Read all", tooltip="All arguments, full screen"),
        Binding("greater_than_sign", "scroll_args_side(1)", "Arguments →", show=False),
        Binding("less_than_sign", "scroll_args_side(-1)", "Arguments ←", show=False),
        Binding("h", "toggle_history", "History", tooltip="Inbox/History"),
        Binding("r", "reload", "Refresh", show=False),
        Binding("space", "mark", "Mark", show=False, tooltip="Mark for a bulk review (b)"),
        Binding("b", "bulk", "Bulk", show=False, tooltip="Review the marked requests in one list"),
        Binding(
            "plus",
            "extend",
            "Extend",
            key_display="+",
            show=False,
            tooltip="Give the selected request 10 more minutes (audited, bounded)",
        ),
        Binding("m", "more", "More rows", show=False),  # the title says when there are more
        Binding("t", "timeline", "Timeline", show=False, tooltip="The selected request's run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[str, engine.ApprovalRequest] = {}
        self.history: dict[str, engine.ApprovalRequest] = {}
        self.deciding = False  # a decision modal is open or its decision is being made
        self.live: dict[str, LiveRows] = {}
        self.limits = {"inbox": INBOX_PAGE, "history": HISTORY_PAGE}  # m raises them
        self.pending_total = 0  # every unexpired pending request, as the header counts
        self.decided_total = 0
        self.marks = Marks()  # requests marked (space) for one bulk review (b)
        # The highlight of the time-left cell; the warnings themselves come from the app
        # (console/expiry.py), whatever section is shown.
        self.warnings: ExpiryWarnings | None = None
        self.orphaned: set[str] = set()  # requests whose MCP client went away
        self.clients: dict[str, McpWait] = {}  # requests an MCP client's call waits on
        self.ticks = 0  # countdown ticks so far (tests check the loop keeps ticking)
        self._shown: tuple[str, str, str | None] | None = None  # request in the args view
        self._countdown: Timer | None = None  # the per-second tick, while any is pending
        # Which list the switcher shows, kept here: asked on every run event (wants_event),
        # where a DOM query per event was a tenth of the console's CPU at 50 runs/s.
        self._history_shown = False

    def compose_body(self) -> ComposeResult:
        yield Label("", id="approvals-title")
        with ContentSwitcher(initial="inbox", id="approvals-lists"):
            inbox = ListTable(id="inbox")
            inbox.add_fit_column("Left", key="left", width=7)
            inbox.add_fit_column("Tool", key="tool", width=12, flex=2, most=28)
            inbox.add_fit_column("Risk", key="risk", width=6)
            inbox.add_fit_column("By (agent)", key="requester", width=10, flex=1, most=20)
            inbox.add_fit_column("Reason (agent)", key="reason", width=10, flex=4)
            yield inbox
            history = ListTable(id="history")
            history.add_fit_column("Decided", key="decided", width=14)
            history.add_fit_column("Decision", key="status", width=8)
            history.add_fit_column("Tool", key="tool", width=10, flex=2, most=28)
            history.add_fit_column("By", key="by", width=8, flex=1, most=20)
            history.add_fit_column("Run", key="run", width=11)
            history.add_fit_column("Why", key="reason", width=6, flex=3)
            yield history
        with Vertical(id="approval-detail"):
            yield DecisionRule(id="approval-facts")  # the rule in its border: readable at 80x24
            yield ArgsView(id="approval-args", title="exact arguments (this is what runs)")
            yield AdviceNote(id="approval-advice")  # below the arguments, never over them
            yield Static(id="approval-words")

    def _count_down_while_pending(self) -> None:
        """The per-second countdown runs while requests are pending: the screen stays
        mounted once shown, and an idle console would wake every second for nothing."""
        if self.pending and self._countdown is None:
            self._countdown = self.set_interval(1.0, self._tick)
        elif not self.pending and self._countdown is not None:
            self._countdown.stop()
            self._countdown = None

    def reload(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.reload()

    @property
    def showing_history(self) -> bool:
        return self._history_shown

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        history = self.showing_history  # read before the awaits: the screen may close during them
        try:
            status = await read_status(self.eng)  # the header's count: the same read
            pending = await self.eng.approvals.list("pending", self.limits["inbox"])
            mcp = McpSessions(self.eng.db, self.eng.audit, self.eng.approvals)
            clients = await mcp.waits()
            decided, decided_total = [], self.decided_total
            if history:
                decided = await self.eng.approvals.list(None, limit=self.limits["history"])
                decided_total = await self.eng.approvals.count(None) - status.pending
        except engine.EngineError as err:
            self.report(err)
            return
        if not self.query(ContentSwitcher):
            return  # the screen closed while the reads ran
        self.pending = {r.id: r for r in pending}
        self._count_down_while_pending()
        self.marks.keep(self.pending)
        self.pending_total = status.pending
        self.console.status = status  # header and title show one number
        if self.showing_history:
            self.decided_total = decided_total
        self.clients = clients
        self.orphaned = {key for key, wait in clients.items() if wait.state == "orphaned"}
        self._fill_inbox()
        if self.showing_history:
            done = [r for r in decided if r.status != "pending" or not r.is_pending]
            done.sort(key=lambda r: r.decided_at or r.expires_at, reverse=True)  # newest first
            self.history = {r.id: r for r in done}
            self._fill_history()
        self._show_title()
        self._show_selected()

    def wants_event(self, event: engine.Event) -> bool:
        # A run changes only the history's "Run" column: the inbox is not sent runs (an
        # agent's are most events); showing the history (h) reloads it.
        if isinstance(event, engine.RunFinished):
            return self._history_shown
        return super().wants_event(event)

    def _live(self, table_id: str) -> LiveRows:
        """The rows of the inbox or the history, changed by key (widgets/live_table.py)."""
        if table_id not in self.live:
            self.live[table_id] = LiveRows(self.query_one(f"#{table_id}", DataTable))
        return self.live[table_id]

    def _fill_inbox(self) -> None:
        now = self.clock.now()
        self._live("inbox").sync(
            [
                (
                    r.id,
                    (
                        self._left(r.seconds_left(now)),
                        self.marks.tag(r.id, r.tool),
                        risk_text(self.app, self._risk(r.tool)),
                        self._requester(r),
                        agent_cell(r.reason),
                    ),
                )
                for r in self.pending.values()
            ]
        )

    def _fill_history(self) -> None:
        rows = []
        for r in self.history.values():
            status = r.status if r.status != "pending" else "expired"
            cells = (
                self.clock.short(r.decided_at or r.expires_at),
                status_text(self.app, status),
                r.tool,
                agent_cell(r.decided_by or "", 60),
                status_text(self.app, r.run_status) if r.run_status else "",
                agent_cell(r.decision_reason or ""),
            )
            rows.append((r.id, cells))
        self._live("history").sync(rows)

    def _requester(self, r: engine.ApprovalRequest) -> Text:
        """The requester, marked when its MCP client went away (the request is orphaned)."""
        cell = agent_cell(r.requester, 60)
        if r.id not in self.orphaned:
            return cell
        return Text.assemble(tone(self.app, "warning", "orphaned ", bold=True), cell)

    def _client(self, r: engine.ApprovalRequest) -> Text | str:
        """Which MCP client asked, on which session, and whether it is still there."""
        wait = self.clients.get(r.id)
        if wait is None:
            return ""
        line = agent_cell(wait.client, 80)
        line.append(f" · session {wait.session_id} · {wait.transport}", style="dim")
        if r.id in self.orphaned:
            line.append(" · ").append(tone(self.app, "warning", ORPHANED))
        return line

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
            args = (len(self.history), self.decided_total, self.limits["history"])
            more = " · m more" if cut_short(*args) else ""
            text = f"History — {capped(*args)} decided, newest first (h: back to the inbox{more})"
        else:
            args = (len(self.pending), self.pending_total, self.limits["inbox"])
            more = " · m more" if cut_short(*args) else ""
            keys = f"a approve · d deny{more}"
            text = f"Inbox — {capped(*args)} pending, soonest expiry first ({keys})"
        self.query_one("#approvals-title", Label).update(text)

    def action_more(self) -> None:
        """m: show another page of the list shown (when its title says there are more)."""
        which = "history" if self.showing_history else "inbox"
        self.limits[which] += HISTORY_PAGE if which == "history" else INBOX_PAGE
        self.reload()

    def _tick(self) -> None:
        """Every second: count down the time-left column and the detail; drop requests
        that expired."""
        self.ticks += 1
        if not self.pending:
            return
        table = self.query_one("#inbox", DataTable)
        now = self.clock.now()
        expired = False
        shown = self._live("inbox").visible_keys()  # only rows on screen: 30, not 500
        for r in self.pending.values():
            left = r.seconds_left(now)
            expired = expired or left <= 0
            if r.id in shown and r.id in table.rows:
                table.update_cell(r.id, "left", self._left(left))
        self._show_facts()
        if expired:
            self.reload()

    @property
    def selected(self) -> engine.ApprovalRequest | None:
        """The request under the cursor now. Read from the table at each use, never kept
        from a RowHighlighted message: keys typed ahead (a terminal delivers `Down space` in
        one read) run before the table's messages reach the screen, and a kept selection
        then marked, extended or opened the row the cursor had just left."""
        if not self.query(ContentSwitcher):
            return None  # not composed yet, or closing
        table = self.query_one("#history" if self.showing_history else "#inbox", DataTable)
        key = self._cursor_key(table)
        source = self.history if self.showing_history else self.pending
        return source.get(key) if key else None

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        request = self.selected
        self._show_facts()
        words = self.query_one("#approval-words", Static)
        words.update(self._words(request) if request else "")
        words.display = request is not None
        shown = (request.id, request.status, request.run_status) if request else None
        if shown != self._shown:
            self._shown = shown
            self._load_args(request.args if request else None)
        self.query_one(DecisionRule).show(request)  # on every reload: the policy may change
        self.query_one(AdviceNote).show(request)

    @work(exclusive=True, group="args")
    async def _load_args(self, args: dict[str, object] | None) -> None:
        await self.query_one("#approval-args", ArgsView).load(args)

    def _show_facts(self) -> None:
        """The console's facts on one line, the time left counting down."""
        facts = self.query_one("#approval-facts", DecisionRule)
        r = self.selected
        if r is None:
            update_steady(facts, Text("No request selected.", style="dim"))
            return
        head = Text()
        head.append(r.tool, "bold").append(" · ").append(risk_text(self.app, self._risk(r.tool)))
        head.append(" risk · ").append(status_text(self.app, r.status))
        if r.status == "pending":
            left = r.seconds_left(self.clock.now())
            head.append(" · expires in ").append(
                tone(self.app, "warning", time_left(left), bold=True)
            )
        elif r.run_status:
            head.append(" · run ").append(status_text(self.app, r.run_status))
        head.append(f" · {r.id}", "dim")
        update_steady(facts, head)  # each second: this line repainted, not the screen laid out

    def _words(self, r: engine.ApprovalRequest) -> RenderableType:
        """Below the arguments: the agent's words and the decision, labelled."""
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        facts: list[tuple[str, str | Text]] = [
            ("requested by (agent-supplied)", agent_cell(r.requester, 200)),
            ("MCP client (agent-supplied name)", self._client(r)),
            ("agent's reason", agent_cell(r.reason, 2000) if r.reason else ""),
            ("decided by", agent_cell(r.decided_by or "", 200)),
            ("decided", self.clock.format(r.decided_at)),
            ("why", agent_cell(r.decision_reason or "", 2000)),
            ("task", r.task_id or ""),
        ]
        for key, value in facts:
            if value:
                grid.add_row(Text(key), value if isinstance(value, Text) else Text(value))
        return Group(grid)

    def action_scroll_args_side(self, step: int) -> None:
        """Wide rows end in a marked arrow: scroll the arguments sideways, focus unmoved."""
        self.query_one("#approval-args", ArgsView).action_scroll_side(step)

    def action_scroll_args(self, pages: int) -> None:
        """Scroll the arguments a page while the focus stays where it is."""
        view = self.query_one("#approval-args", ArgsView)
        height = max(view.scrollable_content_region.height - 1, 1)
        view.scroll_to(y=view.scroll_y + pages * height, animate=False)

    def action_toggle_history(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        self._history_shown = not self._history_shown
        switcher.current = "history" if self._history_shown else "inbox"
        self.query_one(f"#{switcher.current}", DataTable).focus()
        self.reload()

    def action_approve(self) -> None:
        self._decide("approve")

    def action_deny(self) -> None:
        self._decide("deny")

    def action_view_all(self) -> None:
        if self.selected is not None:
            self.app.push_screen(RequestViewModal(self.selected))

    def action_timeline(self) -> None:
        """t: the selected request's run (its trace) as a timeline."""
        request = self.selected
        if request is not None and request.trace_id:
            self.app.push_screen(TimelineModal(self.clock, trace_id=request.trace_id))

    def _decide(self, intent: str) -> None:
        if self.deciding:
            return  # one decision at a time: keys typed ahead do not start another
        request = self.selected
        if request is None or self.showing_history or request.id not in self.pending:
            self.notify("Select a pending request in the inbox first.", title="Approvals")
            return
        self.deciding = True
        self._decision(request, intent)

    @work(group="decide")
    async def _decision(self, request: engine.ApprovalRequest, intent: str) -> None:
        """Ask in the modal of `intent` and carry out only that: the deny path has no call
        to approve, and the approve path none to deny."""
        try:
            risk, left = self._risk(request.tool), request.seconds_left(self.clock.now())
            if intent == "deny":
                modal = DenyModal(request, risk=risk, seconds_left=left)
                reason = await self.app.push_screen_wait(modal)
                if reason is not None:
                    await self._deny(request, reason)
            else:
                confirm = ApproveModal(request, risk=risk, seconds_left=left)
                note = await self.app.push_screen_wait(confirm)
                if note is not None:
                    await self._approve(request, note)
        finally:
            self.deciding = False
        self.reload()

    async def _deny(self, request: engine.ApprovalRequest, reason: str) -> None:
        try:
            await self.eng.deny(request.id, reason)
        except engine.EngineError as err:
            self.report(err)
            return
        self.notify(f"{request.tool} will not run.", title="Denied", markup=False)

    async def _approve(self, request: engine.ApprovalRequest, note: str) -> None:
        try:
            result = await self.eng.approve(request.id, reason=note)
        except engine.EngineError as err:
            self.report(err)
            return
        error = f" — {inert_one_line(result.error, 200)}" if result.error else ""
        self.notify(
            f"{request.tool} ran once: {result.status}{error}",
            title="Approved",
            severity="information" if result.ok else "warning",
            markup=False,
        )

    def action_mark(self) -> None:
        """space: mark or unmark the selected pending request for a bulk review."""
        request = self.selected
        if request is None or self.showing_history or request.id not in self.pending:
            return
        self.marks.toggle(request.id)  # the row shows ● (no toast: it would cover the review)
        self._fill_inbox()

    @work(group="decide")
    async def action_bulk(self) -> None:
        """b: review the marked requests in one list and decide them in one action; each
        is still decided by its id and runs once with its own arguments (no grant)."""
        marked = [self.pending[key] for key in self.marks.ids if key in self.pending]
        if self.deciding or not marked or self.showing_history:
            if not marked and not self.deciding:
                self.notify("Mark requests with space first.", title="Bulk")
            return
        self.deciding = True
        try:
            risks = {r.id: self._risk(r.tool) for r in marked}
            modal = BulkReviewModal(marked, risks=risks, clock=self.clock)
            decision = await self.app.push_screen_wait(modal)
            if decision is not None:
                outcome = await decide_all(self.eng, marked, decision)
                self.marks.clear()
                self.notify(
                    outcome.summary(),
                    title="Bulk decision",
                    severity="warning" if outcome.failed else "information",
                    markup=False,
                )
        finally:
            self.deciding = False
        self.reload()

    @property
    def expiry(self) -> ExpiryWarnings:
        if self.warnings is None:
            self.warnings = ExpiryWarnings(self.eng.settings.daena_expiry_warning_seconds)
        return self.warnings

    def _left(self, seconds_left: float) -> Text:
        """The time-left cell, highlighted in the warning window."""
        if self.expiry.near(seconds_left):
            return tone(self.app, "warning", f"! {time_left(seconds_left)}", bold=True)
        return Text(time_left(seconds_left))

    def action_extend(self) -> None:
        """+: give the selected pending request EXTEND_BY more seconds (the engine bounds and
        audits it; a refusal is a notification naming the rule)."""
        request = self.selected
        if request is None or self.showing_history or request.id not in self.pending:
            self.notify("Select a pending request in the inbox first.", title="Extend")
            return
        self._extend(request)

    @work(group="extend")
    async def _extend(self, request: engine.ApprovalRequest) -> None:
        try:
            extended = await self.eng.extend(request.id, EXTEND_BY)
        except engine.EngineError as err:
            self.report(err)
            return
        left = time_left(extended.seconds_left(self.clock.now()))
        self.notify(f"{request.tool}: expires in {left}", title="Extended", markup=False)
        self.reload()
