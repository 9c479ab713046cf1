"""Models (brain and voice status, Test voice) and the console's spoken alerts, on the real
engine services. What can speak is set the way a machine lacks it: PATH holds only what the
test puts there, and `TTS` is made unimportable."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

import engine
from daena_tui.console import alerts
from daena_tui.console.app import DaenaApp, create_app
from daena_tui.console.screens.models import ModelsScreen
from engine.voice import SpeechOutcome, voice_status

from .conftest import Recorded, fake_player, link_espeak, needs_espeak, started, text_of, wait_for

TEST_VOICE = "Test voice"


async def models_screen(pilot: Pilot[int]) -> ModelsScreen:
    app = await started(pilot)
    await pilot.press("7")
    await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen), "models screen")
    screen = app.screen
    assert isinstance(screen, ModelsScreen)
    await wait_for(pilot, lambda: screen.brain is not None, "brain status")
    await wait_for(pilot, lambda: screen.voice is not None, "voice status")
    return screen


async def test_models_shows_brain_and_voice(app: DaenaApp, settings: engine.Settings) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await models_screen(pilot)
        assert screen.brain is not None and not screen.brain.reachable
        brain = " ".join(text_of(screen.query_one("#brain-status", Static)).split())
        assert "unreachable at http://127.0.0.1:9" in brain
        assert f"reasoning {settings.ollama_reasoning_model} not checked" in brain
        assert f"fallback {settings.ollama_reasoning_fallback} not checked" in brain
        assert "planner uses none" in brain
        problem = screen.brain.problem
        assert problem is not None and " ".join(problem.split()) in brain
        shown = " ".join(text_of(screen.query_one("#voice-status", Static)).split())
        for label, value in voice_status(settings).to_rows():
            assert f"{label} {' '.join(value.split())}" in shown
        assert "DAENA_VOICE_MUTED true" in shown and "Speaks with muted" in shown


async def test_test_voice_without_any_backend_rings_the_bell(
    voice_settings: engine.Settings,
    bin_dir: Path,
    no_coqui: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app(voice_settings, probe_nodes=False)
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await models_screen(pilot)
        assert "Speaks with bell" in " ".join(text_of(screen.query_one("#voice-status")).split())
        await pilot.press("t")
        await wait_for(pilot, lambda: told.titled(TEST_VOICE), "test voice outcome")
        [message] = told.titled(TEST_VOICE)
        assert message.startswith("No speech backend was available")
        assert "coqui: Coqui TTS is not installed" in message
        assert "espeak-ng: espeak-ng is not installed" in message
        assert told.bells == 1
        assert not list((voice_settings.daena_db_path.parent / "voice").glob("*.wav"))


@needs_espeak
async def test_test_voice_keeps_the_file_when_nothing_can_play_it(
    voice_settings: engine.Settings,
    bin_dir: Path,
    no_coqui: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    link_espeak(bin_dir)
    app = create_app(voice_settings, probe_nodes=False)
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await models_screen(pilot)
        await pilot.press("t")
        await wait_for(pilot, lambda: told.titled(TEST_VOICE), "test voice outcome")
        [message] = told.titled(TEST_VOICE)
        assert message.startswith("Spoken with espeak-ng, not played: no audio player found")
        [wav] = (voice_settings.daena_db_path.parent / "voice").glob("alert-*.wav")
        assert str(wav) in message and wav.stat().st_size > 1000
        assert told.bells == 0
        assert not screen.speaking and not screen.query_one("#voice-status").loading


@needs_espeak
async def test_test_voice_plays_through_the_player(
    voice_settings: engine.Settings,
    bin_dir: Path,
    no_coqui: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    link_espeak(bin_dir)
    fake_player(bin_dir, "aplay")
    app = create_app(voice_settings, probe_nodes=False)
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        await models_screen(pilot)
        await pilot.press("t")
        await wait_for(pilot, lambda: told.titled(TEST_VOICE), "test voice outcome")
        assert told.titled(TEST_VOICE) == ["Spoken with espeak-ng"]
        assert told.bells == 0


@needs_espeak
async def test_a_new_request_is_spoken_and_an_unplayed_file_named(
    voice_settings: engine.Settings,
    bin_dir: Path,
    no_coqui: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Alerts (docs/voice.md): notification + one bell from the console; the voice worker speaks the
    request and, with no player, names the file, without ringing the bell again."""
    link_espeak(bin_dir)
    app = create_app(voice_settings, probe_nodes=False)
    told = Recorded(app, monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        async with engine.Engine.open(voice_settings) as agent:  # another process, in effect
            await agent.set_tool_enabled("filesystem_write", True)
            pending = await agent.run(
                engine.RunRequest(
                    tool="filesystem_write",
                    args={"path": "x.txt", "content": "secret-ish"},
                    requester="agent",
                )
            )
        assert pending.status == "pending_approval"
        await wait_for(pilot, lambda: told.titled("Approval needed"), "approval notification")
        await wait_for(pilot, lambda: told.titled("Voice alert not played"), "voice outcome")
        [message] = told.titled("Voice alert not played")
        assert message.startswith("Approval needed: filesystem_write, expires in")
        assert "secret-ish" not in message
        [wav] = (voice_settings.daena_db_path.parent / "voice").glob("alert-*.wav")
        assert str(wav) in message
        assert told.bells == 1  # the console's own bell; the voice outcome rang none
        # A "bell" outcome (nothing could speak) adds neither a bell nor a notification.
        notes = len(told.notes)
        alerts.voice_alert_spoken(
            app, SpeechOutcome("Node windows is unreachable", "bell", None, False, "no backend")
        )
        assert (told.bells, len(told.notes)) == (1, notes)
