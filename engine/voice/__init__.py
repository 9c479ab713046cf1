"""Voice: spoken alerts and the voice status (docs/voice.md).

Importing this package is cheap and has no side effects: Coqui TTS (and torch) are imported
only when the first sentence is spoken with a Coqui model, in a worker thread; the status
only looks at files, PATH and installed packages.
"""

from __future__ import annotations

from engine.errors import VoiceError
from engine.voice.alerts import (
    Alert,
    SpeechOutcome,
    VoiceAlerts,
    alert_for,
    coalesce,
)
from engine.voice.backends import CoquiBackend, EspeakBackend, Synthesized
from engine.voice.paths import (
    ModelDir,
    VoiceReference,
    find_model_dir,
    inspect_model_dir,
    output_dir,
    resolve_voice_reference,
)
from engine.voice.player import PlayResult, play, player_command
from engine.voice.status import VoiceStatus, voice_status

__all__ = [
    "Alert",
    "CoquiBackend",
    "EspeakBackend",
    "ModelDir",
    "PlayResult",
    "SpeechOutcome",
    "Synthesized",
    "VoiceAlerts",
    "VoiceError",
    "VoiceReference",
    "VoiceStatus",
    "alert_for",
    "coalesce",
    "find_model_dir",
    "inspect_model_dir",
    "output_dir",
    "play",
    "player_command",
    "resolve_voice_reference",
    "voice_status",
]
