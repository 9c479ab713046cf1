"""Speech backends, tried in order: Coqui TTS → espeak-ng → the terminal bell (docs/voice.md).

Each backend writes one WAV file and reports what it wrote; playing it is `player.py`'s job
and ringing the bell is the console's (`SpeechOutcome.backend == "bell"` → `app.bell()`):
the engine never writes to the terminal.

- `CoquiBackend` loads a model from XTTS_MODEL_PATH through Coqui's normal API
  (`TTS.api.TTS(model_path=..., config_path=...)`), once, in a worker thread, and keeps it.
  `TTS` (and with it torch) is imported there and nowhere else, so importing the engine and
  showing the voice status never load the heavy stack. XTTS clones the voice reference;
  other Coqui models speak with their own voice. Audio is written with `soundfile`.
- `EspeakBackend` runs `espeak-ng -w FILE --stdin` as a subprocess (argv, no shell; the
  text goes on stdin, so no text can be read as an option), then checks the file with
  `soundfile`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from engine.errors import VoiceError
from engine.settings import Settings
from engine.voice.paths import ModelDir, find_model_dir, output_dir, resolve_voice_reference

BackendName = Literal["coqui", "espeak-ng", "bell", "muted"]
ESPEAK_TIMEOUT_SEC = 30.0
KEEP_FILES = 50
INSTALL_HINT = "install the voice extra: scripts/install_voice.sh"


@dataclass(frozen=True)
class Synthesized:
    """A WAV file a backend wrote, as read back by soundfile."""

    path: Path
    sample_rate: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


class Backend(Protocol):
    name: BackendName

    def unavailable_reason(self) -> str | None:
        """None when this backend can try to speak, else why not (shown on the Models screen)."""

    async def synthesize(self, text: str, out: Path) -> Synthesized:
        """Write `text` as speech to `out`; raise VoiceError when that fails."""


def tts_importable() -> bool:
    """Is Coqui's `TTS` package installed? Looked up, not imported (that would load torch)."""
    try:
        return importlib.util.find_spec("TTS") is not None
    except (ImportError, ValueError):
        return False


def espeak_path() -> str | None:
    return shutil.which("espeak-ng")


def new_output_path(settings: Settings) -> Path:
    """A fresh file name in the voice dir (created here, lazily); old alerts are pruned."""
    directory = output_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    old = sorted(directory.glob("alert-*.wav"))
    for stale in old[: max(0, len(old) - KEEP_FILES + 1)]:
        with contextlib.suppress(OSError):
            stale.unlink()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return directory / f"alert-{stamp}-{uuid.uuid4().hex[:8]}.wav"


def read_back(path: Path) -> Synthesized:
    """Check a written WAV with soundfile: it must hold audio."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError) as err:  # soundfile raises LibsndfileError(RuntimeError)
        raise VoiceError(f"{path} is not a readable WAV file: {err}") from err
    if info.frames <= 0:
        raise VoiceError(f"{path} holds no audio")
    return Synthesized(path, int(info.samplerate), int(info.frames))


def write_wav(path: Path, audio: Any, sample_rate: int) -> Synthesized:
    """Write float samples as 16-bit PCM with soundfile, atomically (players never see half)."""
    import numpy as np
    import soundfile

    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if samples.size == 0:
        raise VoiceError("the model produced no audio")
    if not np.isfinite(samples).all():
        raise VoiceError("the model produced invalid samples (NaN or infinity)")
    partial = path.with_name(path.name + ".part")
    soundfile.write(
        str(partial), np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV"
    )
    os.replace(partial, path)
    return read_back(path)


class CoquiBackend:
    """Coqui TTS from XTTS_MODEL_PATH; the model is loaded once, on first use, in a thread."""

    name: BackendName = "coqui"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._tts: Any = None
        self._loaded_from: ModelDir | None = None
        self._load_error: str | None = None

    @property
    def load_error(self) -> str | None:
        return self._load_error

    def model_dir(self) -> ModelDir:
        return self._loaded_from or find_model_dir(self._settings)

    def unavailable_reason(self) -> str | None:
        if not self._settings.xtts_enabled:
            return "XTTS_ENABLED is false"
        if not tts_importable():
            return f"Coqui TTS is not installed ({INSTALL_HINT})"
        if self._load_error is not None:
            return f"the Coqui model failed to load: {self._load_error}"
        model = self.model_dir()
        if not model.usable:
            if model.problem:
                return model.problem
            return f"no Coqui model in {model.path} (missing: {', '.join(model.missing)})"
        if model.kind == "xtts" and resolve_voice_reference(self._settings).path is None:
            return "XTTS needs a voice reference: set DAENA_VOICE_WAV (see docs/voice.md)"
        return None

    async def synthesize(self, text: str, out: Path) -> Synthesized:
        return await asyncio.to_thread(self._synthesize, text, out)

    def _load(self) -> tuple[Any, ModelDir]:
        with self._lock:
            if self._tts is not None and self._loaded_from is not None:
                return self._tts, self._loaded_from
            model = find_model_dir(self._settings)
            if not model.usable or model.config_file is None:
                raise VoiceError(f"no usable Coqui model in {model.path}")
            checkpoint = model.path if model.kind == "xtts" else model.model_file
            try:
                api = importlib.import_module("TTS.api")
                tts = api.TTS(
                    model_path=str(checkpoint),
                    config_path=str(model.config_file),
                    progress_bar=False,
                )
            except Exception as err:  # a third-party stack: any failure means "cannot use it"
                self._load_error = f"{type(err).__name__}: {err}"
                raise VoiceError(f"Coqui could not load {model.path}: {err}") from err
            self._tts, self._loaded_from = tts, model
            return tts, model

    def _speaker_args(self, tts: Any, model: ModelDir) -> dict[str, Any]:
        language = self._settings.xtts_language
        reference = resolve_voice_reference(self._settings).path
        if model.kind == "xtts":
            if reference is None:
                raise VoiceError("XTTS needs a voice reference (DAENA_VOICE_WAV)")
            return {"speaker_wav": str(reference), "language": language}
        kwargs: dict[str, Any] = {}
        languages = tts.languages if tts.is_multi_lingual else None
        if languages:
            kwargs["language"] = language if language in languages else languages[0]
        if tts.is_multi_speaker:
            cloning = bool(getattr(tts.synthesizer.tts_model.config, "supports_cloning", False))
            if reference is not None and cloning:
                kwargs["speaker_wav"] = str(reference)
            elif tts.speakers:
                kwargs["speaker"] = tts.speakers[0]
        return kwargs

    def _synthesize(self, text: str, out: Path) -> Synthesized:
        tts, model = self._load()
        try:
            wav = tts.tts(text=text, **self._speaker_args(tts, model))
            sample_rate = int(tts.synthesizer.output_sample_rate)
        except VoiceError:
            raise
        except Exception as err:  # a third-party stack: report it and fall back
            raise VoiceError(f"Coqui synthesis failed: {type(err).__name__}: {err}") from err
        return write_wav(out, wav, sample_rate)


class EspeakBackend:
    """espeak-ng, when it is on PATH."""

    name: BackendName = "espeak-ng"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def unavailable_reason(self) -> str | None:
        if espeak_path() is None:
            return "espeak-ng is not installed (e.g. apt-get install espeak-ng)"
        return None

    async def synthesize(self, text: str, out: Path) -> Synthesized:
        exe = espeak_path()
        if exe is None:
            raise VoiceError("espeak-ng is not installed")
        # The configured language first; espeak-ng's default voice when it has no such voice.
        errors: list[str] = []
        for voice in (self._settings.xtts_language, None):
            argv = [exe, *(("-v", voice) if voice else ()), "-w", str(out), "--stdin"]
            error = await _run(argv, text)
            if error is None:
                return await asyncio.to_thread(read_back, out)
            errors.append(error)
        raise VoiceError(f"espeak-ng failed: {'; '.join(errors)}")


async def _run(argv: list[str], text: str) -> str | None:
    """Run argv with `text` on stdin; None on success, else what went wrong."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as err:
        return f"could not start: {err}"
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(text.encode()), ESPEAK_TIMEOUT_SEC)
    except BaseException as err:  # a timeout or a cancelled worker: never leave it running
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        if isinstance(err, TimeoutError):
            return f"timed out after {ESPEAK_TIMEOUT_SEC:.0f} s"
        raise
    if proc.returncode != 0:
        lines = stderr.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit code {proc.returncode}"
    return None
