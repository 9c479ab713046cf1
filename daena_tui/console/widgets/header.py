"""The console header: section title, then pending approvals, lockdown and node status."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from daena_tui.console.sections import SECTIONS, Section
from daena_tui.console.status import ConsoleStatus


def status_markup(status: ConsoleStatus) -> str:
    if not status.ready:
        return "[dim]connecting…[/]"
    pending = (
        f"[$text-warning bold]⚑ {status.pending} pending[/]"
        if status.pending
        else "[dim]0 pending[/]"
    )
    if status.lockdown:
        lockdown = f"[$error bold reverse] LOCKDOWN ({status.lockdown_why}) [/]"
    else:
        lockdown = "[$text-success]lockdown off[/]"
    return f"{pending} │ {lockdown} │ nodes {status.nodes} "


class ConsoleHeader(Widget):
    """One line; follows `app.status` so every section shows the same facts."""

    DEFAULT_CSS = """
    ConsoleHeader {
        height: 1;
        layout: horizontal;
        background: $panel;
        color: $foreground;
        #header-title { width: 1fr; text-style: bold; padding: 0 1; }
        #header-status { width: auto; }
    }
    """

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def compose(self) -> ComposeResult:
        yield Static(f"Daena · {self._title}", id="header-title")
        yield Static(id="header-status")

    def on_mount(self) -> None:
        self.watch(self.app, "status", self._show)

    def _show(self, status: ConsoleStatus) -> None:
        self.query_one("#header-status", Static).update(Content.from_markup(status_markup(status)))


class SectionNav(Static):
    """`1 Tools  2 Run …` with the current section highlighted; click to switch."""

    DEFAULT_CSS = """
    SectionNav {
        height: 1;
        background: $boost;
        color: $text-muted;
    }
    """

    def __init__(self, current: str) -> None:
        super().__init__(Content.from_markup(self.markup(SECTIONS, current)))

    @staticmethod
    def markup(sections: tuple[Section, ...], current: str) -> str:
        parts = []
        for s in sections:
            style = "$text-accent bold reverse" if s.mode == current else "$foreground"
            parts.append(f"[@click=app.section('{s.mode}')][{style}]{s.key} {s.title}[/][/]")
        return " " + " ".join(parts)  # 77 columns: every section fits at 80
