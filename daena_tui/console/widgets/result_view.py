"""The result panel of a run: status, duration, effective command, then the output."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.markup import escape
from textual.widget import Widget
from textual.widgets import Static

import engine
from daena_tui.console.render import command_line, render_output
from daena_tui.console.styles import status_color
from engine.safety.display import marks_only


def status_markup(status: str) -> str:
    return f"[${status_color(status)} bold]{status}[/]"


class ResultView(Widget):
    """Shows one `RunResult`; `status` holds the last shown status (tests wait on it)."""

    DEFAULT_CSS = """
    ResultView {
        height: 1fr;
        border: round $border;
        border-title-color: $text-accent;
        #result-head { height: auto; }
        #result-command { height: auto; color: $text-muted; }
        #result-scroll { height: 1fr; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            Content.from_markup("[dim]No run yet. Fill the form and press ctrl+r.[/]"),
            id="result-head",
        )
        yield Static(id="result-command")
        with VerticalScroll(id="result-scroll"):
            yield Static(id="result-output")

    def on_mount(self) -> None:
        self.border_title = "Result"
        self.query_one("#result-command", Static).display = False

    def show_running(self, tool: str) -> None:
        self.status = None
        self.query_one("#result-head", Static).update(
            Content.from_markup(f"running [b]{tool}[/] …")
        )
        self.query_one("#result-command", Static).display = False
        self.query_one("#result-output", Static).update("")

    def show(self, result: engine.RunResult) -> None:
        head = f"{status_markup(result.status)}  [b]{result.tool}[/]  {result.duration_ms:.0f} ms"
        if result.dry_run:
            head += "  (dry run)"
        if result.audit_id is not None:
            head += f"  [dim]audit #{result.audit_id}[/]"
        lines = [head]
        if result.error:
            lines.append(
                f"[$text-error]{escape(marks_only(result.error))}[/]"
            )  # quotes agent input
        if result.approval_request_id:
            lines.append(f"waiting in the inbox as [b]{result.approval_request_id}[/] (alt+3)")
        if result.truncated:
            lines.append("[$text-warning]output truncated[/]")
        self.query_one("#result-head", Static).update(Content.from_markup("\n".join(lines)))
        argv = command_line(result.result)
        command = self.query_one("#result-command", Static)
        command.update(Content.from_markup(f"$ {escape(argv)}") if argv else "")
        command.display = bool(argv)
        output = render_output(result.result) if result.result is not None else ""
        self.query_one("#result-output", Static).update(output)
        self.status = str(result.status)
