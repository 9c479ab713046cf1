"""Voice test fixtures: settings in tmp dirs, real WAV files, and speech made unavailable.

Absence is simulated the way an operator's machine lacks things: PATH without espeak-ng or
a player, and `TTS` not importable (`sys.modules["TTS"] = None`) — never by replacing the
engine's own logic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from engine import Settings, load_settings
from tests.support.voice import ESPEAK, link_espeak, needs_espeak  # noqa: F401 (re-exported)

VOICE_ENV = (
    "MODELS_ROOT",
    "OLLAMA_MODELS",
    "XTTS_MODEL_PATH",
    "XTTS_ENABLED",
    "XTTS_LANGUAGE",
    "XTTS_SPEAKER_WAV",
    "DAENA_VOICE_WAV",
    "DAENA_VOICE_MUTED",
    "DAENA_CONFIG_FILE",
    "SSH_CONNECTION",
    "SSH_TTY",
)


@pytest.fixture(autouse=True)
def clean_voice_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from an environment with no voice settings and no SSH session."""
    for name in VOICE_ENV:
        monkeypatch.delenv(name, raising=False)


def voice_settings(root: Path, **env: object) -> Settings:
    return load_settings(
        env_file=None,
        MODELS_ROOT=str(root / "models"),
        DAENA_DB_PATH=str(root / "state" / "daena.db"),
        EXECUTION_WORKSPACE_ROOT=str(root),
        DAENA_OPERATOR="op@test",
        **env,
    )


def make_wav(path: Path, seconds: float = 0.25, rate: int = 16000) -> Path:
    """A real, short sine-tone WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), 0.2 * np.sin(2 * np.pi * 440 * t), rate)
    return path


def fake_player(bin_dir: Path, name: str, log: Path, *, exit_code: int = 0) -> None:
    """A stand-in for the platform's player (an external program): logs its argv."""
    script = bin_dir / name
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{log}"\n'
        f'[ {exit_code} -eq 0 ] || echo "no sound card" >&2\n'
        f"exit {exit_code}\n"
    )
    script.chmod(0o755)
