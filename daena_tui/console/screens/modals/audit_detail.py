"""One audit record in full: who, when, what, the rule that decided it (runs, refusals and
requests: engine/explain.py; "not recorded" before migration 17), the redacted arguments
and the result summary."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

import engine
from daena_tui.console.clock import Clock
from daena_tui.console.render import agent_text, as_json, render_args, text_block
from engine.explain import recorded_rules, shown_rule

DECIDED = ("run", "dry_run", "request")
"""The actions whose records carry the rule that decided them."""


def record_renderable(
    rec: engine.AuditRecord, clock: Clock, rule: str | None = None
) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [
        ("record", f"#{rec.id}"),
        ("time", clock.format(rec.ts)),
        ("actor", rec.actor),
        ("action", rec.action),
        ("tool", rec.tool or ""),
        ("status", rec.status),
        ("decided by", rule or ""),
        ("duration", "" if rec.duration_ms is None else f"{rec.duration_ms:.0f} ms"),
        ("error", rec.error or ""),
        ("trace", rec.trace_id or ""),
        ("task", rec.task_id or ""),
        ("approval", rec.approval_id or ""),
        ("hash", rec.hash[:16] + "…"),
    ]
    for key, value in rows:
        if value:  # actor, tool and error may be the agent's words: inert
            grid.add_row(Text(key), agent_text(value, max_lines=None, max_chars=None, more=""))
    parts: list[RenderableType] = [grid, Text("\narguments", style="bold underline")]
    try:
        args = json.loads(rec.args) if rec.args else None
    except json.JSONDecodeError:
        args = rec.args
    parts.append(
        render_args(args, max_lines=None, max_chars=None, more="")
        if isinstance(args, dict)
        else as_json(args, max_chars=None)
    )
    if rec.result_summary:
        parts.append(Text("\nresult summary", style="bold underline"))
        try:
            parts.append(as_json(json.loads(rec.result_summary), max_chars=None))
        except json.JSONDecodeError:
            parts.append(text_block(rec.result_summary, max_chars=None))
    return Group(*parts)


class AuditDetailModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close", "Close", show=False),
    ]
    DEFAULT_CSS = """
    AuditDetailModal {
        align: center middle;
        #audit-detail {
            width: 90%; height: 85%;
            border: thick $accent; background: $surface; padding: 0 1;
            border-title-color: $text-accent;
        }
    }
    """

    def __init__(self, record: engine.AuditRecord, clock: Clock) -> None:
        super().__init__()
        self.record = record
        self.clock = clock

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="audit-detail") as scroll:
            scroll.border_title = f"Audit record #{self.record.id} (esc to close)"
            yield Static(record_renderable(self.record, self.clock), id="audit-record")

    async def on_mount(self) -> None:
        if self.record.action not in DECIDED:
            return
        eng = getattr(self.app, "engine", None)  # None while the engine opens
        if not isinstance(eng, engine.Engine):
            return
        try:
            rules = await recorded_rules(eng.db, [self.record.id])
        except engine.EngineError:
            return  # the record is still shown in full; only the rule is missing
        rule = shown_rule(rules.get(self.record.id))
        self.query_one("#audit-record", Static).update(
            record_renderable(self.record, self.clock, rule)
        )

    def action_close(self) -> None:
        self.dismiss(None)
