"""Voice status for `daena doctor` and the console's Models screen.

Looks at files, PATH and installed packages only: the TTS stack is found with
`importlib.util.find_spec`, never imported, so the status is instant and has no side
effects (nothing is created, nothing is loaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.settings import Settings
from engine.voice.backends import (
    BackendName,
    CoquiBackend,
    EspeakBackend,
    espeak_path,
    tts_importable,
)
from engine.voice.paths import (
    ModelDir,
    VoiceReference,
    output_dir,
    resolve_voice_reference,
    xtts_dir,
)
from engine.voice.player import over_ssh, player_command


@dataclass(frozen=True)
class VoiceStatus:
    """Every fact about voice an operator needs to fix it, and which backend would speak."""

    models_root: Path
    xtts_model_path: Path
    model: ModelDir
    reference: VoiceReference
    xtts_enabled: bool
    language: str
    tts_importable: bool
    espeak: str | None
    player: str | None
    over_ssh: bool
    output_dir: Path
    muted: bool
    backend: BackendName
    skipped: tuple[str, ...]

    def to_rows(self) -> list[tuple[str, str]]:
        """(label, value) rows, in the order an operator reads them."""
        model = self.model
        if model.usable:
            model_text = f"{model.kind} at {model.path}"
        else:
            model_text = f"none usable in {model.path}"
        rows = [
            ("MODELS_ROOT", str(self.models_root)),
            ("XTTS_MODEL_PATH", str(self.xtts_model_path)),
            ("Coqui model", model_text),
            ("Model files found", ", ".join(model.found) or "none"),
            ("Model files missing", ", ".join(model.missing) or "none"),
        ]
        if model.problem:
            rows.append(("Model problem", model.problem))
        reference = self.reference
        rows.append(
            (
                "Voice reference",
                f"{reference.path} ({reference.source})" if reference.path else "none",
            )
        )
        rows += [("Voice reference problem", problem) for problem in reference.problems]
        rows += [
            ("Coqui TTS package", "installed" if self.tts_importable else "not installed"),
            ("XTTS_ENABLED", "true" if self.xtts_enabled else "false"),
            ("XTTS_LANGUAGE", self.language),
            ("espeak-ng", self.espeak or "not found"),
            ("Audio player", self._player_text()),
            ("Audio files", str(self.output_dir)),
            ("DAENA_VOICE_MUTED", "true" if self.muted else "false"),
            ("Speaks with", self.backend),
        ]
        rows += [("Not used", reason) for reason in self.skipped]
        return rows

    def _player_text(self) -> str:
        if self.over_ssh:
            return "none over SSH (files are kept)"
        return self.player or "none found (files are kept)"


def voice_status(settings: Settings, coqui: CoquiBackend | None = None) -> VoiceStatus:
    """The voice status now; pass the service's Coqui backend to include a failed load."""
    coqui = coqui or CoquiBackend(settings)
    skipped: list[str] = []
    backend: BackendName = "bell"
    if settings.daena_voice_muted:
        backend = "muted"
    else:
        for candidate in (coqui, EspeakBackend(settings)):
            reason = candidate.unavailable_reason()
            if reason is None:
                backend = candidate.name
                break
            skipped.append(f"{candidate.name}: {reason}")
    player = player_command(Path("probe.wav"))
    return VoiceStatus(
        models_root=settings.models_root,
        xtts_model_path=xtts_dir(settings),
        model=coqui.model_dir(),
        reference=resolve_voice_reference(settings),
        xtts_enabled=settings.xtts_enabled,
        language=settings.xtts_language,
        tts_importable=tts_importable(),
        espeak=espeak_path(),
        player=player.name if player else None,
        over_ssh=over_ssh(),
        output_dir=output_dir(settings),
        muted=settings.daena_voice_muted,
        backend=backend,
        skipped=tuple(skipped),
    )
