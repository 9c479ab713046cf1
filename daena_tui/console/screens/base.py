"""What every section screen shares: header, nav bar, footer, the engine, errors, reloads.

A section reloads its data in a worker when it is shown (`ScreenResume`) and when the bridge
delivers an engine event it cares about (`RELOAD_ON`: the bridge sends a section only the
events its `wants_event` accepts); it never blocks the UI on I/O. A burst of such events is
one reload, started once the events queued with it are handled.

Escape leaves any field: the focus goes back to the section's main widget (`MAIN`, else its
first table), where the section keys work again; alt+1…alt+9 switch sections from anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.worker import Worker

import engine
from daena_tui.console.clock import Clock
from daena_tui.console.messages import EngineEventReceived
from daena_tui.console.sections import BY_MODE
from daena_tui.console.widgets.header import ConsoleHeader, SectionNav
from engine.safety.display import marks_only

if TYPE_CHECKING:
    from daena_tui.console.app import DaenaApp


class SectionScreen(Screen[None]):
    SECTION: ClassVar[str] = ""
    RELOAD_ON: ClassVar[tuple[type[engine.Event], ...]] = ()
    MAIN: ClassVar[str | None] = None  # the widget Escape goes back to (default: a table)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        # Built with the current stylesheet, so already up to date. Without this, Textual
        # sees a new screen as stale and re-parses all CSS twice on its first show (~25 ms
        # of a ~225 ms Logs open, BENCHMARKS.md §4). `_css_update_count` is Textual's
        # private counter; if it is ever renamed this line only stops saving the time.
        self._css_update_count = getattr(self.app, "_css_update_count", 0)
        self._reload_due = False  # a reload is scheduled after the events queued now

    def compose(self) -> ComposeResult:
        section = BY_MODE[self.SECTION]
        yield ConsoleHeader(section.title)
        yield SectionNav(section.mode)
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        """The section's own widgets (between the nav bar and the footer)."""
        yield from ()

    @property
    def console(self) -> DaenaApp:
        return cast("DaenaApp", self.app)

    @property
    def eng(self) -> engine.Engine:
        return self.console.eng

    @property
    def clock(self) -> Clock:
        return self.console.clock

    def on_mount(self) -> None:
        # Table cells carry theme colours, so rebuild them when the theme changes.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.reload())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "load" and event.worker.is_finished:
            self.console.section_loaded(self.SECTION)

    def on_screen_resume(self) -> None:
        self.reload()

    def wants_event(self, event: engine.Event) -> bool:
        """Whether the bridge sends this section `event` while it is on the stack: those it
        reloads on. A section that acts on others says so here (and handles them)."""
        return isinstance(event, self.reload_on())

    def reload_on(self) -> tuple[type[engine.Event], ...]:
        """The events this section reloads on (`RELOAD_ON`)."""
        return self.RELOAD_ON

    def on_engine_event_received(self, message: EngineEventReceived) -> None:
        if isinstance(message.event, self.reload_on()):
            self._reload_soon()

    def _reload_soon(self) -> None:
        """One reload after the events queued now are handled (exclusive workers would
        cancel each other anyway; this starts one, after the last event of a burst: a
        callback queued behind the events)."""
        if not self._reload_due:
            self._reload_due = True
            self.call_later(self._reload_now)

    def _reload_now(self) -> None:
        self._reload_due = False
        self.reload()

    def reload(self) -> None:
        """Start this section's refresh worker (exclusive: a newer reload cancels an older)."""

    def main_widget(self) -> Widget | None:
        """Where the focus rests in this section: `MAIN`, else its first visible table."""
        if self.MAIN is not None:
            found = self.query(self.MAIN)
            if found:
                return found.first()
        from textual.widgets import DataTable  # ~10 ms: not on the way to the first section

        tables = [t for t in self.query(DataTable) if t.display and t.visible]
        return tables[0] if tables else None

    def action_leave_field(self) -> None:
        """Escape: out of any field, back to the main widget (section keys work there)."""
        main = self.main_widget()
        if main is not None and main.focusable:
            main.focus()
        else:
            self.set_focus(None)

    def report(self, err: engine.EngineError) -> None:
        # Engine messages quote paths and tool output ("[Errno 2] ..."): never markup.
        self.notify(marks_only(err.message), title=err.title, severity="error", markup=False)
