"""Alerts for the operator (docs/architecture.md, flow (b); docs/voice.md).

A new approval request → a notification and the terminal bell, from the console itself;
it names the tool and its risk, never the agent's requester or reason (docs/security.md, 4).
Spoken alerts come from the engine's voice service: the App runs `eng.voice.run(eng.bus,
on_outcome=...)` in one worker, and `voice_alert_spoken` is that `on_outcome`. The console
has already rung the bell for an approval request, so a "bell" outcome rings nothing more;
only audio that was written but could not be played (SSH session, no player) is worth a
short notification naming the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import engine
from daena_tui.console.clock import time_left
from engine.safety.display import inert_one_line

if TYPE_CHECKING:
    from daena_tui.console.app import DaenaApp
    from engine import SpeechOutcome

VOICE_NOTICE_SEC = 4.0


def approval_sentence(event: engine.ApprovalRequested, now: float, risk: str = "") -> str:
    """The console's own words about a request: the tool (a registered name), its risk and
    the time left. The requester and reason are the agent's words; they are read in the
    inbox, labelled, not in a toast that speaks with the console's voice."""
    tool = inert_one_line(event.tool, 60)
    risky = f" ({risk} risk)" if risk else ""
    return f"Approval needed: {tool}{risky}, expires in {time_left(event.expires_at - now)}"


def tool_risk(app: DaenaApp, tool: str) -> str:
    try:
        return str(app.eng.registry.get(tool).risk)
    except engine.EngineError:
        return ""


def approval_requested(app: DaenaApp, event: engine.ApprovalRequested) -> None:
    sentence = approval_sentence(event, app.clock.now(), tool_risk(app, event.tool))
    where = "" if app.current_mode == "approvals" else " Press alt+3 for the inbox."
    app.notify(
        f"{sentence}.{where}",
        title="Approval needed",
        severity="warning",
        timeout=10,
        markup=False,
    )
    app.bell()


def pin_changed(app: DaenaApp, event: engine.AuditAppended) -> None:
    """An upstream MCP tool's definition changed after it was enabled: it is disabled."""
    tool = inert_one_line(event.tool or "an upstream tool", 60)
    app.notify(
        f"{tool}: its definition changed after it was enabled, so it is disabled. "
        "Press 9 to compare and re-pin.",
        title="MCP tool changed",
        severity="error",
        timeout=15,
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
            inert_one_line(f"{outcome.text}: {not_played(outcome)}"),
            title="Voice alert not played",
            timeout=VOICE_NOTICE_SEC,
            markup=False,
        )


def expiring(app: DaenaApp, what: str, seconds_left: float, hint: str) -> None:
    """A request or a task deadline about to expire: one notification, the bell and, where
    voice is on, the same sentence spoken (never by an observer: the server's speakers are
    not the remote observer's). `what` is the console's own words (a registered tool name
    or a task id), never the agent's."""
    sentence = f"{inert_one_line(what, 80)} expires in {time_left(seconds_left)}"
    app.notify(
        f"{sentence}. {hint}", title="Expiring soon", severity="warning", timeout=8, markup=False
    )
    app.bell()
    if not app.observer and not app.eng.voice.muted:
        app.run_worker(_say(app, sentence), group="expiry-voice")


async def _say(app: DaenaApp, sentence: str) -> None:
    voice_alert_spoken(app, await app.eng.voice.speak(sentence))
