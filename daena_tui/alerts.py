"""Alerts for the operator (SPEC §9, §12).

A new approval request → a notification and the terminal bell, from the console itself.
Spoken alerts come from the engine's voice service: the App runs `eng.voice.run(eng.bus,
on_outcome=...)` in one worker, and `voice_alert_spoken` is that `on_outcome`. The console
has already rung the bell for an approval request, so a "bell" outcome rings nothing more;
only audio that was written but could not be played (SSH session, no player) is worth a
short notification naming the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import engine
from daena_tui.clock import time_left

if TYPE_CHECKING:
    from daena_tui.app import DaenaApp
    from engine import SpeechOutcome

VOICE_NOTICE_SEC = 4.0


def approval_sentence(event: engine.ApprovalRequested, now: float) -> str:
    return f"Approval needed: {event.tool}, expires in {time_left(event.expires_at - now)}"


def approval_requested(app: DaenaApp, event: engine.ApprovalRequested) -> None:
    sentence = approval_sentence(event, app.clock.now())
    app.notify(
        f"{sentence} (requested by {event.requester}). Press 3 for the inbox.",
        title="Approval needed",
        severity="warning",
        timeout=10,
        markup=False,
    )
    app.bell()


def not_played(outcome: SpeechOutcome) -> str:
    """Why the audio was not played, always naming the file it was kept in."""
    message = outcome.message or "not played"
    path = str(outcome.wav_path)
    return message if path in message else f"{message} (audio kept at {path})"


def voice_alert_spoken(app: DaenaApp, outcome: SpeechOutcome) -> None:
    """`on_outcome` of the voice worker (runs on the event loop)."""
    if outcome.wav_path is not None and not outcome.played:
        app.notify(
            f"{outcome.text}: {not_played(outcome)}",
            title="Voice alert not played",
            timeout=VOICE_NOTICE_SEC,
            markup=False,
        )
