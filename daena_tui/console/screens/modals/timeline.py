"""A run's or a task's timeline (engine/timeline.py): request → decision (who, why) → start →
outcome → result, one row per audit record; Enter on a row opens that record in full.

Opened with `t` from the Logs section (the selected record's trace), the Tasks section (the
selected task) and the inbox (the selected request's trace). Who, why and the result are
agent-influenced text: every cell is literal and cut with an ellipsis; the record's detail
modal shows the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

import engine
from daena_tui.console.clock import Clock
from daena_tui.console.render import agent_cell
from daena_tui.console.screens.modals.audit_detail import AuditDetailModal
from daena_tui.console.widgets.tables import RowTable
from engine.timeline import Timeline, timeline

if TYPE_CHECKING:
    from daena_tui.console.app import DaenaApp


class TimelineTable(RowTable):
    """The steps, oldest first."""


def what_of(trace_id: str | None, task_id: str | None) -> str:
    return f"task {task_id}" if task_id else f"trace {trace_id}"


class TimelineModal(ModalScreen[None]):
    """The story of one trace or task, read from the audit log when opened."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("t", "close", "Close", show=False),
    ]
    DEFAULT_CSS = """
    TimelineModal {
        align: center middle;
        #timeline-box {
            width: 95%; height: 90%;
            border: thick $accent; background: $surface; padding: 0 1;
            border-title-color: $text-accent;
        }
        #timeline-table { height: 1fr; }
        #timeline-waiting { height: auto; }
    }
    """

    def __init__(
        self, clock: Clock, *, trace_id: str | None = None, task_id: str | None = None
    ) -> None:
        super().__init__()
        self.clock = clock
        self.trace_id = trace_id
        self.task_id = task_id
        self.found: Timeline | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="timeline-box") as box:
            box.border_title = (
                f"Timeline of {what_of(self.trace_id, self.task_id)} "
                "(enter opens the record, esc closes)"
            )
            table = TimelineTable(id="timeline-table")
            table.add_fit_column("Record", key="id", width=7)
            table.add_fit_column("Time", key="time", width=8)
            table.add_fit_column("Stage", key="stage", width=9)
            table.add_fit_column("Who", key="who", width=14)
            table.add_fit_column("Action", key="action", width=12, flex=1, most=22)
            table.add_fit_column("Status", key="status", width=9, flex=1, most=18)
            table.add_fit_column("Why / result", key="detail", width=10, flex=3)
            yield table
            yield Static(Text("reading the audit log…", style="dim"), id="timeline-waiting")

    def on_mount(self) -> None:
        self.query_one(TimelineTable).focus()
        self._load()

    @work(exclusive=True, group="timeline")
    async def _load(self) -> None:
        waiting = self.query_one("#timeline-waiting", Static)
        try:
            eng = cast("DaenaApp", self.app).eng
            found = await timeline(eng.audit, trace_id=self.trace_id, task_id=self.task_id)
        except engine.EngineError as err:
            waiting.update(Text(f"{err.title}: {err.message}", style="bold red"))
            return
        self.found = found
        table = self.query_one(TimelineTable)
        for step in found.steps:
            table.add_row(
                f"#{step.audit_id}",
                self.clock.datetime(step.ts).strftime("%H:%M:%S"),
                step.stage,
                agent_cell(step.actor, 80),
                step.action,
                step.status,
                agent_cell(step.detail, 300),
                key=str(step.audit_id),
            )
        if not found.steps:
            line = Text(f"no audit records for {what_of(self.trace_id, self.task_id)}")
        else:
            tools = sorted({s.tool for s in found.steps if s.tool})
            began = f"{', '.join(tools) or 'no tool'} · from {self.clock.format(found.steps[0].ts)}"
            if found.waiting_for:
                line = Text(f"{began}; waiting for {found.waiting_for}", style="bold")
            else:
                line = Text(f"{began}; {len(found.steps)} records; the run ended", style="dim")
        waiting.update(line)

    @on(DataTable.RowSelected, "#timeline-table")
    def _selected(self) -> None:
        key = self.query_one(TimelineTable).current_key()
        if key is not None:
            self._open(int(key))

    @work(group="timeline-detail")
    async def _open(self, record_id: int) -> None:
        try:
            record = await cast("DaenaApp", self.app).eng.audit.get(record_id)
        except engine.EngineError as err:
            self.notify(err.message, title=err.title, severity="error", markup=False)
            return
        if record is not None:
            await self.app.push_screen(AuditDetailModal(record, self.clock))

    def action_close(self) -> None:
        self.dismiss(None)
