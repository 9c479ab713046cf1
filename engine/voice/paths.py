"""Where voice files live: the voice reference rules and the Coqui model dir checks (docs/voice.md).

Everything here only looks at the file system (and reads a model's small `config.json`); it
never imports the TTS stack and never creates anything, so `voice_status()` and `daena
doctor` stay instant and side-effect free.

Voice reference, first existing file wins:

1. `DAENA_VOICE_WAV` (the explicit choice);
2. `MODELS_ROOT/xtts/voices/daena_voice.wav` (the conventional place, docs/voice.md);
3. `XTTS_MODEL_PATH/voices/daena_voice.wav`, only when `XTTS_MODEL_PATH` points elsewhere
   (the voice kept next to a model that was moved);
4. `XTTS_SPEAKER_WAV` (the original system's name for the same thing);
5. none — XTTS cannot speak without one; other Coqui models and espeak-ng can.

A variable that is set but names a missing file is skipped, and `VoiceReference.problems`
says so, so the Models screen can show why Daena's own voice is not used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.settings import Settings

VOICE_FILE_NAME = "daena_voice.wav"
VOICES_DIR = "voices"
CONFIG_FILE = "config.json"
XTTS_MODEL_FILE = "model.pth"
XTTS_VOCAB_FILE = "vocab.json"
XTTS_SPEAKERS_FILE = "speakers_xtts.pth"
XTTS_REQUIRED = (XTTS_MODEL_FILE, CONFIG_FILE, XTTS_VOCAB_FILE)
# Checkpoint names Coqui's trainer and model zoo use, best guess first.
MODEL_FILE_NAMES = (
    "model.pth",
    "model_file.pth",
    "model_file.pth.tar",
    "best_model.pth",
    "checkpoint.pth",
)
# .pth files in a model dir that are not the model itself.
AUX_PTH = frozenset({XTTS_SPEAKERS_FILE, "speakers.pth", "dvae.pth", "mel_stats.pth"})

ModelKind = Literal["xtts", "coqui", "none"]


@dataclass(frozen=True)
class Candidate:
    """One place the voice reference may be, and whether a file is there."""

    source: str
    path: Path
    exists: bool


@dataclass(frozen=True)
class VoiceReference:
    """The chosen voice reference (or none) and every place that was looked at."""

    path: Path | None
    source: str
    candidates: tuple[Candidate, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        """Variables that are set but name a missing file."""
        return tuple(
            f"{c.source} is set but {c.path} does not exist"
            for c in self.candidates
            if not c.exists and c.source in ("DAENA_VOICE_WAV", "XTTS_SPEAKER_WAV")
        )


def xtts_dir(settings: Settings) -> Path:
    """XTTS_MODEL_PATH, derived as MODELS_ROOT/xtts by the settings when unset or blank."""
    return settings.xtts_model_path or settings.models_root / "xtts"


def resolve_voice_reference(settings: Settings) -> VoiceReference:
    """Apply the voice reference rules above; looks at files, creates nothing."""
    conventional = settings.models_root / "xtts" / VOICES_DIR / VOICE_FILE_NAME
    places: list[tuple[str, Path]] = []
    if settings.daena_voice_wav is not None:
        places.append(("DAENA_VOICE_WAV", settings.daena_voice_wav.expanduser()))
    places.append(("MODELS_ROOT/xtts/voices", conventional))
    beside_model = xtts_dir(settings) / VOICES_DIR / VOICE_FILE_NAME
    if beside_model != conventional:
        places.append(("XTTS_MODEL_PATH/voices", beside_model))
    if settings.xtts_speaker_wav is not None:
        places.append(("XTTS_SPEAKER_WAV", settings.xtts_speaker_wav.expanduser()))
    candidates = tuple(Candidate(src, path, path.is_file()) for src, path in places)
    for candidate in candidates:
        if candidate.exists:
            return VoiceReference(candidate.path, candidate.source, candidates)
    return VoiceReference(None, "none", candidates)


@dataclass(frozen=True)
class ModelDir:
    """What a Coqui model directory holds, for loading and for the status screen.

    `kind` is "xtts" for an XTTS checkpoint (model.pth, config.json, vocab.json; the
    speakers file is optional: it only adds named built-in speakers), "coqui" for any other
    Coqui model (a checkpoint plus config.json), "none" when the dir cannot be used.
    """

    path: Path
    kind: ModelKind
    model_file: Path | None
    config_file: Path | None
    found: tuple[str, ...]
    missing: tuple[str, ...]
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.kind != "none"


def _config_model_name(config: Path) -> tuple[str | None, str | None]:
    """(the config's `model` entry, problem) — a broken config is reported, not raised."""
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        return None, f"cannot read {config}: {err}"
    except json.JSONDecodeError as err:
        return None, f"{config} is not valid JSON ({err.msg}, line {err.lineno})"
    if not isinstance(data, dict):
        return None, f"{config} is not a JSON object"
    model = data.get("model")
    return (str(model) if model is not None else None), None


def _model_file(directory: Path) -> Path | None:
    for name in MODEL_FILE_NAMES:
        if (directory / name).is_file():
            return directory / name
    others = sorted(
        (p for p in directory.glob("*.pth*") if p.is_file() and p.name not in AUX_PTH),
        key=lambda p: (p.stat().st_mtime, p.name),
    )
    return others[-1] if others else None


def inspect_model_dir(directory: Path) -> ModelDir:
    """Classify one directory (not its children)."""
    if not directory.is_dir():
        return ModelDir(
            directory, "none", None, None, (), XTTS_REQUIRED, f"{directory} does not exist"
        )
    present = {n for n in (*XTTS_REQUIRED, XTTS_SPEAKERS_FILE) if (directory / n).is_file()}
    config = directory / CONFIG_FILE if CONFIG_FILE in present else None
    model_name, problem = _config_model_name(config) if config else (None, None)
    if model_name == "xtts" or (model_name is None and XTTS_VOCAB_FILE in present):
        missing = tuple(n for n in XTTS_REQUIRED if n not in present)
        return ModelDir(
            directory,
            "xtts" if not missing and problem is None else "none",
            directory / XTTS_MODEL_FILE if XTTS_MODEL_FILE in present else None,
            config,
            tuple(n for n in (*XTTS_REQUIRED, XTTS_SPEAKERS_FILE) if n in present),
            missing,
            problem,
        )
    model_file = _model_file(directory)
    found: list[str] = []
    missing_files: list[str] = []
    (found if config else missing_files).append(CONFIG_FILE)
    if model_file is not None:
        found.append(model_file.name)
    else:
        missing_files.append("model checkpoint (*.pth)")
    return ModelDir(
        directory,
        "coqui" if config and model_file and problem is None else "none",
        model_file,
        config,
        tuple(found),
        tuple(missing_files),
        problem,
    )


def find_model_dir(settings: Settings) -> ModelDir:
    """The Coqui model to use: XTTS_MODEL_PATH itself, else its first usable subdirectory.

    Subdirectories cover the layout Coqui's own downloader uses
    (`tts_models--multilingual--multi-dataset--xtts_v2`) and a few models side by side.
    When nothing is usable the report for XTTS_MODEL_PATH itself is returned, so the
    status screen lists what is missing there.
    """
    root = xtts_dir(settings)
    top = inspect_model_dir(root)
    if top.usable or not root.is_dir():
        return top
    for child in sorted(p for p in root.iterdir() if p.is_dir() and p.name != VOICES_DIR):
        report = inspect_model_dir(child)
        if report.usable:
            return report
    return top


def output_dir(settings: Settings) -> Path:
    """Where spoken alerts are written (created when the first one is)."""
    return settings.daena_db_path.expanduser().parent / "voice"
