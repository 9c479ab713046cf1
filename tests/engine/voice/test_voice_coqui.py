"""Coqui TTS for real: a tiny VITS model built here (random weights, no download), saved as
`model.pth` + `config.json` under MODELS_ROOT/xtts, loaded by the backend through Coqui's
normal API (`TTS.api.TTS(model_path=..., config_path=...)`), and spoken.

Skipped only when the `voice` extra is not installed (CI installs it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from engine.voice import VoiceAlerts, find_model_dir, voice_status
from tests.engine.voice.conftest import voice_settings

SAMPLE_RATE = 16000


def build_tiny_vits(directory: Path) -> None:
    """A VITS small enough to build and run in a second: a few hundred kB of random weights."""
    import torch
    from TTS.tts.configs.shared_configs import BaseAudioConfig, CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    characters = CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters",
        pad="_",
        eos="",
        bos="",
        blank=None,
        characters="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        punctuations=" !,.:;?'-",
        is_unique=True,
        is_sorted=True,
    )
    args = VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        num_layers_posterior_encoder=1,
        num_layers_flow=1,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[8, 8, 4],  # product = hop_length
        upsample_initial_channel_decoder=16,
        upsample_kernel_sizes_decoder=[16, 16, 8],
        use_sdp=False,
        init_discriminator=False,  # inference only: no discriminator weights to save
    )
    audio = BaseAudioConfig(
        sample_rate=SAMPLE_RATE, hop_length=256, win_length=1024, fft_size=1024, num_mels=20
    )
    config = VitsConfig(
        model_args=args,
        audio=audio,
        characters=characters,
        use_phonemes=False,  # characters only: no phonemizer needed
        text_cleaner="english_cleaners",
        add_blank=True,
    )
    torch.manual_seed(0)
    model = Vits(config)
    directory.mkdir(parents=True, exist_ok=True)
    # The checkpoint layout Coqui's loader reads: {"model": state_dict, ...}
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, directory / "model.pth")
    config.save_json(str(directory / "config.json"))


async def test_tiny_coqui_model_speaks_an_alert(tmp_path: Path, bin_dir: Path) -> None:
    pytest.importorskip("TTS")
    xtts = tmp_path / "models" / "xtts"
    build_tiny_vits(xtts)
    assert json.loads((xtts / "config.json").read_text())["model"] == "vits"
    settings = voice_settings(tmp_path)
    assert find_model_dir(settings).kind == "coqui"
    status = voice_status(settings)
    assert status.backend == "coqui" and status.tts_importable

    alerts = VoiceAlerts(settings)
    outcome = await alerts.speak("Approval needed: apply_patch, expires in 30 minutes")
    assert outcome.backend == "coqui", outcome.skipped
    assert outcome.wav_path is not None and outcome.wav_path.is_file()
    assert not outcome.played  # PATH has no player here: the file is kept and reported
    assert str(outcome.wav_path) in outcome.message

    samples, rate = soundfile.read(str(outcome.wav_path), dtype="float32")
    config = json.loads((xtts / "config.json").read_text())
    assert rate == config["audio"]["sample_rate"] == SAMPLE_RATE
    assert samples.ndim == 1 and samples.size > 0
    assert np.isfinite(samples).all()

    # the model is loaded once and kept: a second alert reuses it
    again = await alerts.speak("Task Ab3xYz failed")
    assert again.backend == "coqui" and again.wav_path != outcome.wav_path
    assert soundfile.info(str(again.wav_path)).samplerate == SAMPLE_RATE


async def test_a_broken_coqui_model_falls_back_and_says_why(tmp_path: Path, bin_dir: Path) -> None:
    pytest.importorskip("TTS")
    xtts = tmp_path / "models" / "xtts"
    build_tiny_vits(xtts)
    (xtts / "model.pth").write_bytes(b"not a checkpoint")
    alerts = VoiceAlerts(voice_settings(tmp_path))
    outcome = await alerts.speak("Task Ab3xYz failed")
    assert outcome.bell  # espeak-ng is not on this PATH either
    assert outcome.skipped[0].startswith("coqui: Coqui could not load")
    # the failure is remembered, not retried on every alert, and the status shows it
    assert any("failed to load" in r for r in alerts.status().skipped)
