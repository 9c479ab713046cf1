"""Models: MODELS_ROOT and the paths derived from it with their source, Ollama reachability
and installed models, and the voice setup. Brain and voice services are shown as not
available until the engine has them (SPEC §12)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

import engine
from daena_tui import services
from daena_tui.screens.base import SectionScreen
from daena_tui.styles import tone

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


class ModelsScreen(SectionScreen):
    SECTION = "models"
    CSS_PATH = "models.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Re-check"),
        Binding("t", "test_voice", "Test voice"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ollama: services.OllamaStatus | None = None

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
            yield Static(id="ollama-status")
            yield Static(id="voice-status")

    def reload(self) -> None:
        self._load()
        self._probe()

    def action_reload(self) -> None:
        self.reload()

    def _gather(self) -> tuple[list[tuple[str, str, str, bool | None]], Path | None, str]:
        """Settings rows and the voice reference (reads `.env` and stats paths: a thread)."""
        described = {n: (v, src) for n, v, src in engine.describe_settings(self.eng.settings)}
        rows = []
        for name in MODEL_SETTINGS:
            value, source = described.get(name, ("", "?"))
            exists = Path(value).exists() if name in PATH_SETTINGS and value else None
            rows.append(
                (name, value, source.replace("derived from MODELS_ROOT", "derived"), exists)
            )
        voice_path, rule = services.voice_reference(self.eng.settings)
        return rows, voice_path, rule

    @work(exclusive=True, group="load")
    async def _load(self) -> None:
        rows, voice_path, rule = await asyncio.to_thread(self._gather)
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
        settings = self.eng.settings
        available = "available"
        missing = "not available in this build"
        lines = [
            Text("Voice", style="bold underline"),
            Text(f"XTTS enabled: {settings.xtts_enabled}   language: {settings.xtts_language}"),
            Text(f"voice reference: {voice_path or '(none)'}  [{rule}]"),
            Text(
                "voice service: " + (available if services.service(self.eng, "voice") else missing)
            ),
            Text(
                "brain service: " + (available if services.service(self.eng, "brain") else missing)
            ),
        ]
        self.query_one("#voice-status", Static).update(Group(*lines))

    @work(exclusive=True, group="probe")
    async def _probe(self) -> None:
        self.query_one("#ollama-status", Static).update(
            Text(f"Ollama: checking {self.eng.settings.ollama_base_url} …")
        )
        self.ollama = await services.probe_ollama(self.eng)
        self.query_one("#ollama-status", Static).update(self._ollama_renderable(self.ollama))

    def _ollama_renderable(self, status: services.OllamaStatus) -> RenderableType:
        settings = self.eng.settings
        head = Text("\nOllama ", style="bold underline")
        if not status.reachable:
            return Group(
                head,
                Text.assemble(
                    tone(self.app, "error", "unreachable", bold=True),
                    f" at {status.url}: {status.message}",
                ),
            )
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        latency = f"{status.latency_ms:.0f} ms" if status.latency_ms is not None else ""
        grid.add_row(
            "server",
            Text.assemble(
                tone(self.app, "success", "reachable", bold=True), f" at {status.url} ({latency})"
            ),
        )
        for label, model in (
            ("reasoning", settings.ollama_reasoning_model),
            ("fallback", settings.ollama_reasoning_fallback),
        ):
            mark = (
                tone(self.app, "success", "installed")
                if status.has(model)
                else tone(self.app, "warning", "not installed")
            )
            grid.add_row(label, Text.assemble(f"{model} ", mark))
        grid.add_row("models", ", ".join(status.models) or "(none)")
        return Group(head, grid)

    @work(group="voice")
    async def action_test_voice(self) -> None:
        voice = services.service(self.eng, "voice")
        if voice is None:
            self.notify("The voice service is not available in this build.", title="Test voice")
            return
        try:
            await services.call(voice, ("test", "speak", "announce"), "This is Daena. Voice test.")
        except engine.EngineError as err:
            self.report(err)
