"""The Daena operator console: a thin App that opens the engine, bridges its events and
switches between section screens (one Textual mode per section).

    create_app(settings)              # the factory the CLI and the tests use
    run_console(settings) -> int      # what `daena` (no subcommand) calls
    main()                            # the `daena-tui` entry point
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from functools import cache, partial
from importlib import import_module
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.worker import WorkerFailed

import engine
from daena_tui import startup
from daena_tui.console import alerts, quitting
from daena_tui.console.bridge import EngineBridge
from daena_tui.console.clock import Clock
from daena_tui.console.commands import ConsoleCommands
from daena_tui.console.expiry import ExpiryWatch
from daena_tui.console.expiry import reload_on as expiry_events
from daena_tui.console.messages import EngineEventReceived, EngineOpened
from daena_tui.console.preferences import Preferences
from daena_tui.console.screens import SECTION_SCREENS
from daena_tui.console.screens.help import HelpScreen
from daena_tui.console.screens.modals.confirm import ConfirmModal
from daena_tui.console.screens.starting import StartingScreen
from daena_tui.console.sections import SECTIONS
from daena_tui.console.status import ConsoleStatus, read_status
from daena_tui.console.terminal_size import forget_stale_size

if TYPE_CHECKING:
    from textual.driver import Driver

    from daena_tui.console.screens.base import SectionScreen
    from engine.tools.preview import PreviewTool

    EngineFactory = Callable[[engine.Settings], AbstractAsyncContextManager[engine.Engine]]
    # The settings, or how to load them: loading waits until the first frame is drawn.
    SettingsSource = engine.Settings | Callable[[], engine.Settings]
    # The built-in tools as stored, read before the settings load (None: no preview).
    PreviewSource = Callable[[], Sequence[PreviewTool] | None]
NODE_PROBE_SEC = 60.0
SETTLE_SEC = 2.0
"""The latest the deferred start-up work waits for the first section's load to finish."""
STILL_OPENING = "The engine is still opening: sections open once it is."
PREVIEW_WAIT_SEC = 1.0
"""The longest the engine waits for the stored Tools list to be drawn before it opens."""
LINUX_DRIVER = "textual.drivers.linux_driver"
PIN_CHANGED = "mcp_pin_changed"  # the audit action that raises the pin alert


@cache
def status_events() -> tuple[type[engine.Event], ...]:
    """The events that change the header. Functions, not constants: the event classes load
    with the engine, after the first frame."""
    return (
        engine.ApprovalRequested,
        engine.ApprovalDecided,
        engine.ConfigChanged,
        engine.NodeChanged,
        engine.NodeHealthChanged,
    )


@cache
def app_events() -> tuple[type[engine.Event], ...]:
    """With PIN_CHANGED, what the App acts on."""
    return (*status_events(), *expiry_events())


def default_engine_factory(
    settings: engine.Settings, *, probe_nodes_every: float | None = NODE_PROBE_SEC
) -> AbstractAsyncContextManager[engine.Engine]:
    """The real engine, following other processes' changes on the shared database and
    checking node health every minute (the header shows it); `None` checks never."""
    return engine.Engine.open(
        settings, watch=True, probe_nodes_every=probe_nodes_every, index_audit=True
    )


def observer_engine_factory(
    settings: engine.Settings,
) -> AbstractAsyncContextManager[engine.Engine]:
    """The observer's engine (`daena --observer`): its database connection cannot write, and
    it follows the other processes' changes; engine/observer.py's allowlist comes first."""
    return engine.Engine.open(settings, watch=True, read_only=True)


class QuitModal(ConfirmModal):
    """The question ctrl+q asks while a run is in flight."""


class DaenaApp(App[int]):
    """The console. Domain state lives in the engine; the App keeps only view state."""

    TITLE = "Daena Operator Console"
    # Every section's stylesheet (2 KB in all) is read at start: a screen with a CSS_PATH of
    # its own makes Textual re-parse all CSS, every widget's included, on its first show.
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        "app.tcss",
        *(f"screens/{mode}.tcss" for mode in SECTION_SCREENS),
    ]
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        mode: partial(lambda m: SECTION_SCREENS[m](), mode) for mode in SECTION_SCREENS
    }
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    # A section key is typed into a field that has the focus; alt+key works everywhere.
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(s.key, f"section('{s.mode}')", s.title, show=False, key_display=s.key)
            for s in SECTIONS
        ),
        *(
            Binding(f"alt+{s.key}", f"section('{s.mode}')", s.title, show=False, priority=True)
            for s in SECTIONS
        ),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+q", "quit_console", "Quit", key_display="^q", priority=True),
        Binding("ctrl+t", "change_theme", "Theme", show=False),
    ]

    status: reactive[ConsoleStatus] = reactive(ConsoleStatus(), always_update=True)

    def __init__(
        self,
        settings: SettingsSource,
        *,
        engine_factory: EngineFactory | None = None,
        clock: Clock | None = None,
        initial_section: str = "tools",
        probe_nodes: bool = True,
        preferences: Preferences | None = None,
        observer: bool = False,
        preview: PreviewSource | None = None,
    ) -> None:
        super().__init__()
        # `--observer` (daena web): the engine is held through engine/observer.py's read-only
        # view, so no key can approve, deny, toggle or edit anything, over a database
        # connection that cannot write (observer_engine_factory).
        self.observer = observer
        self.preferences = preferences or Preferences()
        self._settings_source = settings
        self.settings: engine.Settings | None = None if callable(settings) else settings
        self.clock = clock or Clock()
        self.engine: engine.Engine | None = None
        self._engine_factory = engine_factory or (
            observer_engine_factory
            if observer
            else partial(default_engine_factory, probe_nodes_every=None)
        )
        # The default engine's node checks start once the first section is up (_settled).
        self._probe_every = (
            NODE_PROBE_SEC if probe_nodes and engine_factory is None and not observer else None
        )
        self._settle_timer: Timer | None = None
        self._initial = initial_section
        self._stack = AsyncExitStack()
        self._bridge = EngineBridge(self)
        self._status_timer: Timer | None = None
        self._status_due = False  # a header read is scheduled after the events queued now
        # Why the engine did not open (settings, database); printed once the screen is gone.
        self.startup_problem: str | None = None
        self.expiry: ExpiryWatch | None = None  # warnings before requests and deadlines expire
        # The Tools list as stored (engine/tools/preview.py), shown until the engine is open.
        self._preview_source = None if observer or initial_section != "tools" else preview
        self.preview: Sequence[PreviewTool] | None = None
        self._preview_screen: SectionScreen | None = None
        self._unmasked = False  # a mode switch without Textual's 50 ms hold (_switch_unmasked)
        self._lifespan_started = False

    def get_driver_class(self) -> type[Driver]:
        """Textual's Linux driver, with an input thread that sleeps until input or exit
        (console/driver.py); any other driver (Windows, TEXTUAL_DRIVER, the web) as is."""
        chosen = super().get_driver_class()
        if chosen.__name__ == "LinuxDriver" and chosen.__module__ == LINUX_DRIVER:
            from daena_tui.console.driver import QuietLinuxDriver

            return QuietLinuxDriver
        return chosen

    @property
    def eng(self) -> engine.Engine:
        if self.engine is None:
            raise engine.EngineError("the engine is not open yet", title="Starting")
        return self.engine

    # -- lifespan -------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return StartingScreen()

    def on_mount(self) -> None:
        self._follow_saved_theme()
        # Draw the first frame ("Opening the engine…") before anything else competes with it
        # for the CPU, then the Tools list as stored, then the settings and the engine.
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        self._show_preview()
        if self.preview:  # once its rows are drawn (`preview_drawn`), at the latest in 1 s
            self.set_timer(PREVIEW_WAIT_SEC, self._start_lifespan)
        else:
            self.call_after_refresh(self._start_lifespan)

    def _start_lifespan(self) -> None:
        if not self._lifespan_started:
            self._lifespan_started = True
            self._lifespan()

    def _follow_saved_theme(self) -> None:
        """The theme chosen last time (palette or ctrl+t), and remember the next choice;
        an observer's choice is its own (it must write nothing on the operator's machine)."""
        saved = self.preferences.theme()
        if saved in self.available_themes:
            self.theme = saved
        if not self.observer:
            self.theme_changed_signal.subscribe(self, self._remember_theme)

    def _remember_theme(self, theme: Theme) -> None:
        problem = self.preferences.save_theme(theme.name)
        if problem is not None:
            self.notify(problem, title="Theme not remembered", severity="warning", markup=False)

    @work(group="engine")
    async def _lifespan(self) -> None:
        """Load settings, open the engine, then forward its events until the app exits."""
        try:
            # In a thread, so the first frame stays on screen while the modules load.
            self.settings = await asyncio.to_thread(self._load_settings)
            eng = await self._stack.enter_async_context(self._engine_factory(self.settings))
        except engine.EngineError as err:
            self.startup_problem = f"{err.title}: {err.message}"
            self.exit(return_code=startup.EXIT_STARTUP)  # run_console prints the line
            return
        if self.observer:
            from engine.observer import observe

            eng = observe(eng)
        self.engine = eng
        self.post_message(EngineOpened())
        await self._bridge.pump(eng)

    def _show_preview(self) -> None:
        """The Tools list as stored, when it can be read (a file and one query, ~15 ms):
        drawn right after the first frame, before the settings, pydantic and the tool
        modules load (BENCHMARKS.md §3); the engine's answer replaces it once it is open."""
        if self._preview_source is None:
            return
        try:
            self.preview = self._preview_source()
        except Exception:  # only a head start: on any failure the engine's list is the first
            self.preview = None
        if self.preview:
            self._switch_unmasked(self._initial)

    def _switch_unmasked(self, mode: str) -> None:
        """Leave the starting screen for the first section at once. Textual holds the screen
        for 50 ms on a mode switch (`delay_update`, masking a half-built screen) and throws
        away the frame drawn meanwhile: a sixth of "Tools listed" (BENCHMARKS.md §3). The
        starting screen masks nothing worth it; later switches keep Textual's mask."""
        self._unmasked = True
        try:
            self.switch_mode(mode)
        finally:
            self._unmasked = False

    def delay_update(self, delay: float = 0.05) -> None:
        if not self._unmasked:
            super().delay_update(delay)

    def preview_drawn(self, screen: SectionScreen) -> None:
        """`screen` shows the preview: it reloads when the engine opens, which starts once
        these rows are on screen (the settings' imports in their thread hold the GIL most
        of the time: started earlier, they kept the rows from being drawn for ~0.3 s)."""
        self._preview_screen = screen
        self.call_after_refresh(self._start_lifespan)

    def _load_settings(self) -> engine.Settings:
        source = self._settings_source
        settings = source() if callable(source) else source
        import_module("engine.engine")
        return settings

    async def on_unmount(self) -> None:
        await self._stack.aclose()

    def _handle_exception(self, error: Exception) -> None:
        """Once shutdown has begun, a section's load that resumes finds its widgets already
        closed (Textual closes a screen's widgets before the screen, whose close cancels its
        workers): there is nothing left to show, so that is no failure of the console.
        Every other error, and this one while running, is handled as Textual does."""
        failed = error.error if isinstance(error, WorkerFailed) else None
        if not self.is_running and isinstance(failed, NoMatches):
            return
        super()._handle_exception(error)

    def on_engine_opened(self, _: EngineOpened) -> None:
        self._switch_unmasked(self._initial)
        if self._preview_screen is not None:  # already shown: the engine's list replaces it
            self._preview_screen.reload()
        self.refresh_status()
        # Whatever section is shown (console/expiry.py); it starts once the first is drawn.
        self.expiry = ExpiryWatch(self, self.eng.settings.daena_expiry_warning_seconds)
        # What the first section does not need waits until it is drawn with its data (the
        # first section's load finished), or SETTLE_SEC at the latest.
        self._settle_timer = self.set_timer(SETTLE_SEC, self._settled)

    def section_loaded(self, mode: str) -> None:
        """A section's load finished (screens/base.py): for the first section, its rows are
        drawn at the next refresh, and what waited for it starts after that."""
        if self._settle_timer is not None and mode == self._initial:
            self.call_after_refresh(self._settled)

    def _settled(self) -> None:
        """Start what the first section did not wait for: the expiry warnings (with the
        tasks' code), node checks, spoken alerts and the other sections' imports (each
        competes with that section for the CPU)."""
        if self._settle_timer is None or self.engine is None:
            return
        self._settle_timer.stop()
        self._settle_timer = None
        if self.expiry is not None:  # it reads the tasks too (their deadlines)
            self.expiry.start()
        if self._probe_every is not None:
            self.engine.start_probing(self._probe_every)
        if not self.observer:  # the server's speakers are not the remote observer's
            self._voice_alerts()
        self._load_sections()

    @work(thread=True, group="sections", exit_on_error=False)
    def _load_sections(self) -> None:
        """Import the other sections' code in the background once the first one is shown,
        so the operator's first switch to each section only has to build it."""
        for mode in SECTION_SCREENS:
            SECTION_SCREENS[mode]

    @work(exclusive=True, group="voice-alerts", exit_on_error=False)
    async def _voice_alerts(self) -> None:
        """Speak the engine's alerts until the app exits (docs/voice.md). Voice is optional: if
        the service fails, the operator is told once and the console carries on without it."""
        eng = self.eng
        try:
            await eng.voice.run(eng.bus, on_outcome=partial(alerts.voice_alert_spoken, self))
        except Exception as err:  # any failure of the audio stack: say so, never crash
            self.log.error("voice alerts stopped", err)
            self.notify(
                f"Spoken alerts stopped ({type(err).__name__}: {err}); "
                "notifications and the bell carry on.",
                title="Voice",
                severity="warning",
                markup=False,
            )

    def wants_event(self, event: engine.Event) -> bool:
        """The events the App acts on (the bridge sends it no others): the header's facts,
        the expiry warnings' requests and tasks, the approval and pin alerts. Not an agent's
        runs, which are most events and change none of these."""
        if isinstance(event, engine.AuditAppended):
            return event.action == PIN_CHANGED
        return isinstance(event, app_events())

    def on_engine_event_received(self, message: EngineEventReceived) -> None:
        event = message.event
        if self.expiry is not None:
            self.expiry.on_event(event)
        if isinstance(event, engine.ApprovalRequested):
            alerts.approval_requested(self, event)
        if isinstance(event, engine.AuditAppended) and event.action == PIN_CHANGED:
            alerts.pin_changed(self, event)
        if isinstance(event, status_events()):
            self._refresh_status_soon()

    def _refresh_status_soon(self) -> None:
        """One header read once the events queued now are handled, however many there are
        (a burst of 100 requests is one read, not 100 workers each cancelling the last):
        the read starts after the last of them (a callback queued behind them), so the
        counts include every one."""
        if not self._status_due:
            self._status_due = True
            self.call_later(self._refresh_status_due)

    def _refresh_status_due(self) -> None:
        self._status_due = False
        self.refresh_status()

    @work(exclusive=True, group="status")
    async def refresh_status(self) -> None:
        """Read the header's facts now (events call this), then again once the soonest
        pending request expires or after a minute: no polling while nothing happens."""
        try:
            self.status = await read_status(self.eng)
        except engine.EngineError as err:
            self.notify(err.message, title=err.title, severity="error")
        if self._status_timer is not None:
            self._status_timer.stop()
        self._status_timer = self.set_timer(self.status.next_refresh_sec, self.refresh_status)

    # -- navigation -----------------------------------------------------------------------

    def action_section(self, mode: str) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)  # help is read-only: leave it for the section
        elif isinstance(self.screen, ModalScreen):
            return  # a dialog (a decision) is answered or closed first
        if self.engine is None and self.preview:
            self.notify(STILL_OPENING, title="Starting", severity="warning", markup=False)
        if self.engine is not None and mode in SECTION_SCREENS:
            self.switch_mode(mode)

    async def action_quit_console(self) -> None:
        """ctrl+q: quit at once, unless a run or a task step of this console is in flight:
        then ask, and if the operator confirms, record those runs as interrupted first."""
        if self.engine is None or self.observer:  # an observer has nothing in flight
            self.exit()
            return
        if isinstance(self.screen, QuitModal):
            return
        running = await quitting.runs_in_flight(self.engine)
        busy = [w for w in self.workers if w.group in quitting.RUN_GROUPS and not w.is_finished]
        if not running and not busy:
            self.exit()
            return
        self.push_screen(
            QuitModal(
                "Quit while a run is in flight?",
                quitting.question(running, len(busy)),
                confirm="Quit, record interrupted",
            ),
            self._quit_confirmed,
        )

    async def _quit_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.run_worker(self._quit_interrupting(), group="quit", exclusive=True)

    async def _quit_interrupting(self) -> None:
        runs = [w for w in self.workers if w.group in quitting.RUN_GROUPS and not w.is_finished]
        for worker in runs:
            worker.cancel()
        await asyncio.gather(*(worker.wait() for worker in runs), return_exceptions=True)
        try:
            await quitting.record_interrupted(self.eng)
        except engine.EngineError as err:
            self.notify(err.message, title=err.title, severity="error", markup=False)
            return
        self.exit()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def run_in_section(self, mode: str, action: str) -> None:
        """Show a section and run one of its actions (command palette entries)."""
        if self.engine is None:
            self.notify(STILL_OPENING, title="Starting", severity="warning", markup=False)
            return
        await self.switch_mode(mode)
        await self.screen.run_action(action)

    async def open_run_form(self, tool: str) -> None:
        """Show the Run section with `tool`'s form."""
        if self.engine is None:
            self.notify(STILL_OPENING, title="Starting", severity="warning", markup=False)
            return
        await self.switch_mode("run")
        await self.screen.run_action(f"select_tool({tool!r})")


def create_app(
    settings: SettingsSource,
    *,
    engine_factory: EngineFactory | None = None,
    clock: Clock | None = None,
    initial_section: str = "tools",
    probe_nodes: bool = True,
    preferences: Preferences | None = None,
    observer: bool = False,
    preview: PreviewSource | None = None,
) -> DaenaApp:
    """Build the console for `settings` (the CLI and the tests use this same factory).

    `probe_nodes=False` skips the periodic node health check of the default engine (tests
    whose assertions a background health record would disturb use it). `preview` reads
    the Tools list as stored, drawn before the settings load (engine/tools/preview.py)."""
    return DaenaApp(
        settings,
        engine_factory=engine_factory,
        clock=clock,
        initial_section=initial_section,
        probe_nodes=probe_nodes,
        preferences=preferences,
        observer=observer,
        preview=preview,
    )


def run_console(
    settings: SettingsSource, *, observer: bool = False, preview: PreviewSource | None = None
) -> int:
    """Run the console until the operator quits; returns the exit code. Given a loader,
    settings are loaded once the first frame is drawn (a bad value exits with code 2)."""
    forget_stale_size()
    app = create_app(settings, observer=observer, preview=preview)
    app.run()
    if app.startup_problem is not None:  # one plain line, as the CLI writes it
        return startup.report(app.startup_problem)
    return app.return_code or 0


def main() -> None:
    """`daena-tui`: settings from the environment and `.env`, then the console."""
    from engine.tools.preview import stored_tools

    env_file = ".env" if Path(".env").is_file() else None  # as load_settings reads it
    sys.exit(run_console(engine.load_settings, preview=partial(stored_tools, None, env_file)))


if __name__ == "__main__":
    main()
