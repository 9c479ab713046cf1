"""docs/voice.md: MODELS_ROOT derivation, the voice reference rules and the model dir checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import load_settings
from engine.settings import data_dir
from engine.voice import find_model_dir, inspect_model_dir, resolve_voice_reference
from tests.engine.voice.conftest import make_wav, voice_settings

# -- MODELS_ROOT and the paths derived from it ------------------------------------------------


def test_models_root_unset_is_the_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(env_file=None)
    assert settings.models_root == data_dir() / "models"
    assert settings.xtts_model_path == data_dir() / "models" / "xtts"
    assert settings.ollama_models == data_dir() / "models" / "ollama"
    assert not str(settings.models_root).startswith(("D:", "C:"))  # no hard-coded drive


def test_models_root_blank_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELS_ROOT", "")
    monkeypatch.setenv("XTTS_MODEL_PATH", "")
    settings = load_settings(env_file=None)
    assert settings.models_root == data_dir() / "models"
    assert settings.xtts_model_path == data_dir() / "models" / "xtts"


def test_models_root_explicit_moves_the_derived_paths(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MODELS_ROOT", str(tmp_path / "m"))
    settings = load_settings(env_file=None)
    assert settings.xtts_model_path == tmp_path / "m" / "xtts"
    assert settings.ollama_models == tmp_path / "m" / "ollama"
    # and nothing was created by reading the settings
    assert not (tmp_path / "m").exists()


def test_explicit_xtts_model_path_wins_over_the_derived_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MODELS_ROOT", str(tmp_path / "m"))
    monkeypatch.setenv("XTTS_MODEL_PATH", str(tmp_path / "elsewhere"))
    settings = load_settings(env_file=None)
    assert settings.xtts_model_path == tmp_path / "elsewhere"
    assert find_model_dir(settings).path == tmp_path / "elsewhere"


# -- voice reference rules --------------------------------------------------------------------


def conventional(root: Path) -> Path:
    return root / "models" / "xtts" / "voices" / "daena_voice.wav"


def test_daena_voice_wav_wins_when_it_exists(tmp_path: Path) -> None:
    explicit = make_wav(tmp_path / "mine.wav")
    make_wav(conventional(tmp_path))
    speaker = make_wav(tmp_path / "speaker.wav")
    settings = voice_settings(tmp_path, DAENA_VOICE_WAV=str(explicit), XTTS_SPEAKER_WAV=speaker)
    ref = resolve_voice_reference(settings)
    assert (ref.path, ref.source) == (explicit, "DAENA_VOICE_WAV")
    assert ref.problems == ()


def test_conventional_place_when_daena_voice_wav_is_missing(tmp_path: Path) -> None:
    make_wav(conventional(tmp_path))
    speaker = make_wav(tmp_path / "speaker.wav")
    settings = voice_settings(
        tmp_path, DAENA_VOICE_WAV=str(tmp_path / "gone.wav"), XTTS_SPEAKER_WAV=str(speaker)
    )
    ref = resolve_voice_reference(settings)
    assert (ref.path, ref.source) == (conventional(tmp_path), "MODELS_ROOT/xtts/voices")
    assert ref.problems == (f"DAENA_VOICE_WAV is set but {tmp_path / 'gone.wav'} does not exist",)


def test_conventional_place_when_daena_voice_wav_is_unset(tmp_path: Path) -> None:
    make_wav(conventional(tmp_path))
    ref = resolve_voice_reference(voice_settings(tmp_path))
    assert ref.path == conventional(tmp_path)


def test_voice_beside_a_moved_xtts_model(tmp_path: Path) -> None:
    beside = make_wav(tmp_path / "xtts2" / "voices" / "daena_voice.wav")
    settings = voice_settings(tmp_path, XTTS_MODEL_PATH=str(tmp_path / "xtts2"))
    ref = resolve_voice_reference(settings)
    assert (ref.path, ref.source) == (beside, "XTTS_MODEL_PATH/voices")


def test_xtts_speaker_wav_is_the_last_resort(tmp_path: Path) -> None:
    speaker = make_wav(tmp_path / "speaker.wav")
    ref = resolve_voice_reference(voice_settings(tmp_path, XTTS_SPEAKER_WAV=str(speaker)))
    assert (ref.path, ref.source) == (speaker, "XTTS_SPEAKER_WAV")


def test_no_reference_when_nothing_exists(tmp_path: Path) -> None:
    settings = voice_settings(
        tmp_path,
        DAENA_VOICE_WAV=str(tmp_path / "a.wav"),
        XTTS_SPEAKER_WAV=str(tmp_path / "b.wav"),
    )
    ref = resolve_voice_reference(settings)
    assert (ref.path, ref.source) == (None, "none")
    assert [c.source for c in ref.candidates] == [
        "DAENA_VOICE_WAV",
        "MODELS_ROOT/xtts/voices",
        "XTTS_SPEAKER_WAV",
    ]
    assert len(ref.problems) == 2


def test_a_directory_is_not_a_voice_reference(tmp_path: Path) -> None:
    (tmp_path / "dir.wav").mkdir()
    settings = voice_settings(tmp_path, DAENA_VOICE_WAV=str(tmp_path / "dir.wav"))
    assert resolve_voice_reference(settings).path is None


# -- model directories ------------------------------------------------------------------------


def files(directory: Path, *names: str, config: object = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"x")
    if config is not None:
        (directory / "config.json").write_text(json.dumps(config))
    return directory


def test_complete_xtts_dir(tmp_path: Path) -> None:
    d = files(tmp_path, "model.pth", "vocab.json", "speakers_xtts.pth", config={"model": "xtts"})
    report = inspect_model_dir(d)
    assert report.kind == "xtts" and report.usable
    assert report.found == ("model.pth", "config.json", "vocab.json", "speakers_xtts.pth")
    assert report.missing == ()
    assert report.model_file == d / "model.pth"


def test_xtts_dir_missing_vocab_is_not_usable(tmp_path: Path) -> None:
    d = files(tmp_path, "model.pth", config={"model": "xtts"})
    report = inspect_model_dir(d)
    assert report.kind == "none"
    assert report.missing == ("vocab.json",)


def test_any_coqui_model_with_checkpoint_and_config(tmp_path: Path) -> None:
    d = files(tmp_path, "best_model_1000.pth", "speakers.pth", config={"model": "vits"})
    report = inspect_model_dir(d)
    assert report.kind == "coqui"
    assert report.model_file == d / "best_model_1000.pth"  # not the speakers file
    assert report.found == ("config.json", "best_model_1000.pth")


def test_checkpoint_without_config_is_not_usable(tmp_path: Path) -> None:
    report = inspect_model_dir(files(tmp_path, "model.pth"))
    assert report.kind == "none"
    assert report.missing == ("config.json",)


def test_broken_config_is_reported_not_raised(tmp_path: Path) -> None:
    d = files(tmp_path, "model.pth")
    (d / "config.json").write_text("{not json")
    report = inspect_model_dir(d)
    assert report.kind == "none"
    assert report.problem is not None and "is not valid JSON" in report.problem


def test_model_found_in_a_subdirectory_of_xtts_model_path(tmp_path: Path) -> None:
    settings = voice_settings(tmp_path)
    xtts = tmp_path / "models" / "xtts"
    files(xtts / "voices", "daena_voice.wav")
    sub = files(
        xtts / "tts_models--multilingual--multi-dataset--xtts_v2",
        "model.pth",
        "vocab.json",
        config={"model": "xtts"},
    )
    report = find_model_dir(settings)
    assert (report.path, report.kind) == (sub, "xtts")


def test_missing_model_dir_lists_what_xtts_needs(tmp_path: Path) -> None:
    report = find_model_dir(voice_settings(tmp_path))
    assert report.kind == "none"
    assert report.missing == ("model.pth", "config.json", "vocab.json")
    assert not (tmp_path / "models").exists()  # looking creates nothing
