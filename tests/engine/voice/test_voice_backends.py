"""Backends in order (Coqui → espeak-ng → bell), playback, and the voice status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from engine.voice import EspeakBackend, VoiceAlerts, player_command, voice_status
from tests.engine.voice.conftest import (
    fake_player,
    link_espeak,
    make_wav,
    needs_espeak,
    voice_settings,
)

SENTENCE = "Approval needed: apply_patch, expires in 30 minutes"


@needs_espeak
async def test_espeak_writes_a_real_wav(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    audio = await EspeakBackend(voice_settings(tmp_path)).synthesize(SENTENCE, out)
    info = soundfile.info(str(out))
    assert (audio.path, audio.sample_rate, audio.frames) == (out, info.samplerate, info.frames)
    assert info.samplerate == 22050 and info.frames > info.samplerate  # over a second of speech
    assert not list(tmp_path.glob("*.part"))


@needs_espeak
async def test_espeak_falls_back_to_its_default_voice_for_an_unknown_language(
    tmp_path: Path,
) -> None:
    settings = voice_settings(tmp_path, XTTS_LANGUAGE="xx-nope")
    audio = await EspeakBackend(settings).synthesize("hello", tmp_path / "o.wav")
    assert audio.frames > 0


@needs_espeak
async def test_speak_uses_espeak_when_coqui_is_missing(
    tmp_path: Path, bin_dir: Path, no_coqui: None
) -> None:
    link_espeak(bin_dir)
    alerts = VoiceAlerts(voice_settings(tmp_path))
    outcome = await alerts.speak(SENTENCE)
    assert outcome.backend == "espeak-ng" and outcome.wav_path is not None
    assert outcome.wav_path.parent == tmp_path / "state" / "voice"  # the data dir, made lazily
    assert soundfile.info(str(outcome.wav_path)).frames > 0
    assert outcome.skipped == (
        "coqui: Coqui TTS is not installed (install the voice extra: scripts/install_voice.sh)",
    )
    # no player on PATH: the file is kept and the console is told where
    assert not outcome.played and str(outcome.wav_path) in outcome.message


async def test_nothing_available_means_the_bell(
    tmp_path: Path, bin_dir: Path, no_coqui: None
) -> None:
    alerts = VoiceAlerts(voice_settings(tmp_path))
    outcome = await alerts.speak(SENTENCE)
    assert outcome.bell and outcome.backend == "bell"
    assert (outcome.wav_path, outcome.played) == (None, False)
    assert [reason.split(":")[0] for reason in outcome.skipped] == ["coqui", "espeak-ng"]
    assert alerts.status().backend == "bell"


async def test_xtts_disabled_skips_coqui_even_with_a_model(tmp_path: Path, bin_dir: Path) -> None:
    xtts = tmp_path / "models" / "xtts"
    xtts.mkdir(parents=True)
    (xtts / "model.pth").write_bytes(b"x")
    (xtts / "config.json").write_text('{"model": "vits"}')
    alerts = VoiceAlerts(voice_settings(tmp_path, XTTS_ENABLED="false"))
    outcome = await alerts.speak(SENTENCE)
    assert outcome.bell
    assert outcome.skipped[0] == "coqui: XTTS_ENABLED is false"


@needs_espeak
async def test_a_player_on_path_plays_the_file(
    tmp_path: Path, bin_dir: Path, no_coqui: None
) -> None:
    link_espeak(bin_dir)
    log = tmp_path / "player.log"
    fake_player(bin_dir, "aplay", log)
    outcome = await VoiceAlerts(voice_settings(tmp_path)).speak(SENTENCE)
    assert outcome.played and outcome.message == "played with aplay"
    assert log.read_text().split("\n")[:2] == ["-q", str(outcome.wav_path)]


@needs_espeak
async def test_a_failing_player_keeps_the_file(
    tmp_path: Path, bin_dir: Path, no_coqui: None
) -> None:
    link_espeak(bin_dir)
    fake_player(bin_dir, "paplay", tmp_path / "log", exit_code=1)
    outcome = await VoiceAlerts(voice_settings(tmp_path)).speak(SENTENCE)
    assert not outcome.played
    assert outcome.message == f"paplay failed (no sound card): audio kept at {outcome.wav_path}"
    assert outcome.wav_path is not None and outcome.wav_path.is_file()


@needs_espeak
async def test_over_ssh_the_file_is_kept_not_played(
    tmp_path: Path, bin_dir: Path, no_coqui: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    link_espeak(bin_dir)
    log = tmp_path / "player.log"
    fake_player(bin_dir, "aplay", log)
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")
    outcome = await VoiceAlerts(voice_settings(tmp_path)).speak(SENTENCE)
    assert not outcome.played and outcome.message.startswith("SSH session: audio kept at")
    assert not log.exists()


def test_player_commands_per_platform() -> None:
    wav = Path("C:/Users/o'brien/voice $(x).wav")
    found = {"powershell": "C:/ps.exe", "afplay": "/usr/bin/afplay", "aplay": "/usr/bin/aplay"}
    windows = player_command(wav, platform="win32", which=found.get)
    assert windows is not None
    # the path travels in the environment, never inside the PowerShell command text
    assert all(str(wav) not in arg for arg in windows.argv)
    assert windows.argv[0] == "C:/ps.exe" and "-NoProfile" in windows.argv
    assert dict(windows.env) == {"DAENA_VOICE_FILE": str(wav)}
    mac = player_command(wav, platform="darwin", which=found.get)
    assert mac is not None and mac.argv == ("/usr/bin/afplay", str(wav))
    linux = player_command(wav, platform="linux", which=found.get)
    assert linux is not None and linux.argv == ("/usr/bin/aplay", "-q", str(wav))
    assert player_command(wav, platform="linux", which=lambda _: None) is None


def test_status_rows_explain_which_backend_speaks(tmp_path: Path, bin_dir: Path) -> None:
    xtts = tmp_path / "models" / "xtts"
    xtts.mkdir(parents=True)
    for name in ("model.pth", "vocab.json"):
        (xtts / name).write_bytes(b"x")
    (xtts / "config.json").write_text('{"model": "xtts"}')
    status = voice_status(voice_settings(tmp_path))
    rows = dict(status.to_rows())
    assert rows["MODELS_ROOT"] == str(tmp_path / "models")
    assert rows["XTTS_MODEL_PATH"] == str(xtts)
    assert rows["Coqui model"] == f"xtts at {xtts}"
    assert rows["Model files found"] == "model.pth, config.json, vocab.json"
    assert rows["Voice reference"] == "none"
    assert rows["espeak-ng"] == "not found"
    assert rows["Audio player"] == "none found (files are kept)"
    assert rows["Audio files"] == str(tmp_path / "state" / "voice")
    assert status.backend == "bell"
    # XTTS without a voice reference cannot speak: the status says why
    if status.tts_importable:
        assert any("XTTS needs a voice reference" in r for r in status.skipped)
    # with Daena's voice in place, Coqui is chosen (when the extra is installed)
    make_wav(xtts / "voices" / "daena_voice.wav")
    again = voice_status(voice_settings(tmp_path))
    assert again.reference.path == xtts / "voices" / "daena_voice.wav"
    assert again.backend == ("coqui" if again.tts_importable else "bell")
    assert not (tmp_path / "state").exists()  # the status creates nothing


def test_importing_the_voice_package_loads_no_tts_stack() -> None:
    code = (
        "import sys, engine, engine.voice;"
        "from engine.settings import load_settings;"
        "engine.voice.voice_status(load_settings(env_file=None));"
        "print(sorted(m for m in ('TTS', 'torch', 'torchaudio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
