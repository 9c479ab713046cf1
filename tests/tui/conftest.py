"""Console tests: a real tmp SQLite database and a real tmp git repository as workspace.

The `app` fixture skips the periodic node health check (a background audit record and
health event would land in the middle of a test) and `settings` mutes spoken alerts (a
speech subprocess and its notification would race with the test's keys and clicks); the
tests about those features build their own app and settings.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

import engine
from daena_tui.console.app import DaenaApp, create_app
from engine.settings import env_name
from tests.support.voice import ESPEAK, link_espeak, needs_espeak  # noqa: F401 (re-exported)

OPERATOR = "operator@test"
ENV_NAMES = [env_name(name) for name in engine.Settings.model_fields]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the developer's environment or a `.env` in the cwd."""
    for name in (*ENV_NAMES, "SSH_CONNECTION", "SSH_TTY"):
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # exports land here
    # The console's preferences (its theme) go to a tmp config dir, never the developer's.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **GIT_ENV, "HOME": str(path.parent)}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    (path / "README.md").write_text("# demo\n", encoding="utf-8")
    subprocess.run(["git", "-C", str(path), "add", "README.md"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "init"], check=True, env=env)
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "ws")


def settings_for(db: Path, workspace: Path, **extra: str) -> engine.Settings:
    return engine.load_settings(
        env_file=None,
        DAENA_DB_PATH=str(db),
        EXECUTION_WORKSPACE_ROOT=str(workspace),
        DAENA_OPERATOR=OPERATOR,
        OLLAMA_BASE_URL="http://127.0.0.1:9",
        WINDOWS_NODE_URL="http://127.0.0.1:9",
        **extra,
    )


@pytest.fixture
def settings(tmp_path: Path, workspace: Path) -> engine.Settings:
    return settings_for(
        tmp_path / "daena.db",
        workspace,
        MODELS_ROOT=str(tmp_path / "models"),
        DAENA_VOICE_MUTED="true",
    )


@pytest.fixture
def voice_settings(tmp_path: Path, workspace: Path) -> engine.Settings:
    """Spoken alerts on (what speaks depends on PATH and `TTS`: see `bin_dir`, `no_coqui`)."""
    return settings_for(tmp_path / "daena.db", workspace, MODELS_ROOT=str(tmp_path / "models"))


def fake_player(bin_dir: Path, name: str) -> None:
    """A stand-in for the platform's audio player (an external program) that plays nothing."""
    script = bin_dir / name
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)


@pytest.fixture
async def eng(settings: engine.Settings) -> AsyncIterator[engine.Engine]:
    """A second engine on the same database: what an agent or the CLI would do."""
    async with engine.Engine.open(settings) as e:
        yield e


@pytest.fixture
def app(settings: engine.Settings) -> DaenaApp:
    return create_app(settings, probe_nodes=False)


class Recorded:
    """What the app told the operator: notifications (kept, unlike the toasts, which
    expire) and terminal bells."""

    def __init__(self, app: DaenaApp, monkeypatch: pytest.MonkeyPatch) -> None:
        self.notes: list[tuple[str, str, str]] = []  # (title, message, severity)
        self.bells = 0
        notify, bell = app.notify, app.bell

        def record_notify(message: str, **kw: Any) -> None:
            self.notes.append((kw.get("title", ""), message, kw.get("severity", "information")))
            notify(message, **kw)

        def record_bell() -> None:
            self.bells += 1
            bell()

        monkeypatch.setattr(app, "notify", record_notify)
        monkeypatch.setattr(app, "bell", record_bell)

    def titled(self, title: str) -> list[str]:
        return [message for t, message, _ in self.notes if t == title]


async def wait_for(
    pilot: Pilot[int], condition: Callable[[], object], what: str, timeout: float = 30.0
) -> None:
    """Let the app run until `condition()` holds; fail naming `what` after `timeout` s
    (generous: it only bounds a failing test, a passing one goes on as soon as it holds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await pilot.pause(0.05)


async def started(pilot: Pilot[int]) -> DaenaApp:
    app = pilot.app
    assert isinstance(app, DaenaApp)
    await wait_for(
        pilot, lambda: app.engine is not None and app.current_mode != "_default", "engine open"
    )
    return app


def text_of(widget: object) -> str:
    """The plain text a Static shows (strings, Content, Text or any Rich renderable)."""
    content = getattr(widget, "content", widget)
    if isinstance(content, str):
        return content
    plain = getattr(content, "plain", None)
    if isinstance(plain, str):
        return plain
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(content)
    return console.export_text()


def painted(widget: Widget) -> str:
    """What the widget paints now: its lines as the screen composes them (a widget whose
    content changed without a repaint would still show the old ones)."""
    lines = widget.render_lines(Region(0, 0, *widget.outer_size))
    return "\n".join(line.text.rstrip() for line in lines)
