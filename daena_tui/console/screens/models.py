"""Models: MODELS_ROOT and the paths derived from it with their source, the brain (Ollama:
reachable, installed models, which model the planner uses, what is wrong) and the voice
setup (docs/voice.md), all from the engine's own services. `t` speaks a test sentence."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

import engine
from daena_tui.console.alerts import not_played
from daena_tui.console.screens.base import SectionScreen
from daena_tui.console.styles import tone

if TYPE_CHECKING:
    from engine import BrainStatus, SpeechOutcome, VoiceStatus

MODEL_SETTINGS = (
    "MODELS_ROOT",
    "OLLAMA_MODELS",
    "XTTS_MODEL_PATH",
    "OLLAMA_BASE_URL",
    "OLLAMA_REASONING_MODEL",
    "OLLAMA_REASONING_FALLBACK",
    "XTTS_ENABLED",
    "XTTS_LANGUAGE",
    "XTTS_SPEAKER_WAV",
    "DAENA_VOICE_WAV",
)
PATH_SETTINGS = (
    "MODELS_ROOT",
    "OLLAMA_MODELS",
    "XTTS_MODEL_PATH",
    "XTTS_SPEAKER_WAV",
    "DAENA_VOICE_WAV",
)
TEST_SENTENCE = "This is Daena. Voice test."
SPEAKS_WITH_TONE = {"coqui": "success", "espeak-ng": "success", "bell": "warning"}

SettingRow = tuple[str, str, str, bool | None]


def settings_rows(settings: engine.Settings) -> list[SettingRow]:
    """(name, value, source, exists) for the model settings (reads `.env`, stats paths)."""
    described = {n: (v, src) for n, v, src in engine.describe_settings(settings)}
    rows = []
    for name in MODEL_SETTINGS:
        value, source = described.get(name, ("", "?"))
        exists = Path(value).exists() if name in PATH_SETTINGS and value else None
        rows.append((name, value, source.replace("derived from MODELS_ROOT", "derived"), exists))
    return rows


def heading(title: str) -> Text:
    return Text(title, style="bold underline")


def grid() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    return table


class ModelsScreen(SectionScreen):
    SECTION = "models"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Re-check"),
        Binding("t", "test_voice", "Test voice"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.brain: BrainStatus | None = None
        self.voice: VoiceStatus | None = None
        self.speaking = False
        self._brain_checks = 0

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="models-body"):
            table: DataTable[str | Text] = DataTable(
                id="models-table", cursor_type="row", show_cursor=False
            )
            table.add_column("Setting", key="name", width=26)
            table.add_column("Value", key="value")
            table.add_column("Source", key="source", width=8)
            table.add_column("On disk", key="exists", width=8)
            yield table
            yield Static(id="brain-status")
            yield Static(id="voice-status")

    def reload(self) -> None:
        self._load_settings()
        self._load_brain()
        self._load_voice()

    def action_reload(self) -> None:
        self.reload()

    # -- settings -------------------------------------------------------------------------

    @work(exclusive=True, group="settings")
    async def _load_settings(self) -> None:
        rows = await asyncio.to_thread(settings_rows, self.eng.settings)
        table = self.query_one("#models-table", DataTable)
        table.clear()
        for name, value, source, exists in rows:
            mark: str | Text = ""
            if exists is not None:
                mark = (
                    tone(self.app, "success", "yes")
                    if exists
                    else tone(self.app, "warning", "missing")
                )
            table.add_row(name, value or "(unset)", source, mark, key=name)
        table.styles.height = len(rows) + 1

    # -- brain ----------------------------------------------------------------------------

    @work(exclusive=True, group="brain")
    async def _load_brain(self) -> None:
        """Ask Ollama (up to the brain's status timeout): a loading state meanwhile."""
        panel = self.query_one("#brain-status", Static)
        self._brain_checks += 1
        check = self._brain_checks
        self.brain = None
        panel.loading = True
        try:
            status = await self.eng.brain.status()
        finally:
            if check == self._brain_checks:  # a newer check (that cancelled this) still runs
                panel.loading = False
        panel.update(self._brain_renderable(status))
        self.brain = status

    def _brain_renderable(self, status: BrainStatus) -> RenderableType:
        table = grid()
        server = (
            tone(self.app, "success", "reachable", bold=True)
            if status.reachable
            else tone(self.app, "error", "unreachable", bold=True)
        )
        table.add_row("server", Text.assemble(server, f" at {status.url}"))
        for label, model, installed in (
            ("reasoning", status.reasoning_model, status.reasoning_installed),
            ("fallback", status.fallback_model, status.fallback_installed),
        ):
            if installed:
                mark = tone(self.app, "success", "installed")
            elif status.reachable:
                mark = tone(self.app, "warning", "not installed")
            else:
                mark = tone(self.app, "text-muted", "not checked")
            table.add_row(label, Text.assemble(f"{model}  ", mark))
        table.add_row("planner uses", status.selected_model or "none")
        if status.reachable:
            table.add_row("models", ", ".join(status.models) or "(none)")
        if status.problem:
            table.add_row("problem", tone(self.app, "error", status.problem))
        return Group(heading("Brain (Ollama)"), table)

    # -- voice ----------------------------------------------------------------------------

    @work(exclusive=True, group="voice-status")
    async def _load_voice(self) -> None:
        status = await asyncio.to_thread(self.eng.voice.status)  # stats files, searches PATH
        self.query_one("#voice-status", Static).update(self._voice_renderable(status))
        self.voice = status

    def _voice_renderable(self, status: VoiceStatus) -> RenderableType:
        table = grid()
        for label, value in status.to_rows():
            shown: str | Text = value
            if label == "Speaks with":
                shown = tone(self.app, SPEAKS_WITH_TONE.get(value, "text-muted"), value, bold=True)
            elif label == "Not used":
                shown = tone(self.app, "text-muted", value)
            elif label.endswith("problem"):
                shown = tone(self.app, "warning", value)
            table.add_row(label, shown)
        return Group(heading("Voice"), table)

    def action_test_voice(self) -> None:
        if self.speaking:
            self.notify("A voice test is already running.", title="Test voice")
            return
        self._test_voice()

    @work(group="voice-test")
    async def _test_voice(self) -> None:
        """Speak one sentence now through the voice service; the voice panel shows a loading
        state while it synthesises (loading a Coqui model can take a while)."""
        panel = self.query_one("#voice-status", Static)
        self.speaking = True
        panel.loading = True
        try:
            outcome = await self.eng.voice.speak(TEST_SENTENCE)
        except engine.EngineError as err:
            self.report(err)
            return
        finally:
            self.speaking = False
            panel.loading = False
        self._tell(outcome)
        self._load_voice()  # e.g. a Coqui model that failed to load is shown now

    def _tell(self, outcome: SpeechOutcome) -> None:
        title = "Test voice"
        if outcome.bell:
            self.app.bell()
            reasons = "; ".join(outcome.skipped) or "none is configured"
            self.notify(
                f"No speech backend was available, so the bell rang instead: {reasons}",
                title=title,
                severity="warning",
                timeout=15,
                markup=False,
            )
        elif outcome.backend == "muted":
            self.notify(outcome.message, title=title, markup=False)
        elif outcome.played:
            self.notify(f"Spoken with {outcome.backend}", title=title, markup=False)
        else:
            self.notify(
                f"Spoken with {outcome.backend}, not played: {not_played(outcome)}",
                title=title,
                severity="warning",
                timeout=15,
                markup=False,
            )
