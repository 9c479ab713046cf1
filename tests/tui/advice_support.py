"""A real HTTP server standing in for Ollama, and the settings that point the console's
advisory note at it (the advice tests and snapshots share them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import engine
from tests.engine.tasks.tasks_fake_ollama import FakeOllama

from .conftest import settings_for

MODEL = "qwen2.5:14b-instruct"


@pytest.fixture(name="fake")
def fake_ollama() -> Iterator[FakeOllama]:
    server = FakeOllama([MODEL]).start()
    yield server
    server.stop()


def advice_update(url: str) -> dict[str, Any]:
    """The settings that send the advisory question to `url`, with MODEL."""
    return {
        "ollama_base_url": url,
        "ollama_reasoning_model": MODEL,
        "ollama_reasoning_fallback": MODEL,
    }


def settings_with(tmp_path: Path, workspace: Path, url: str) -> engine.Settings:
    settings = settings_for(tmp_path / "daena.db", workspace, DAENA_VOICE_MUTED="true")
    return settings.model_copy(update=advice_update(url))
