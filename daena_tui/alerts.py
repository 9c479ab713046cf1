"""Alerts for the operator: a new approval request → notification, terminal bell, voice.

Voice (SPEC §12) is not in this build; when the engine grows a `voice` service with an
`announce(text)` method, the short sentence below is spoken too (never the arguments).
"""

from __future__ import annotations

import contextlib
import inspect

from textual.app import App

import engine
from daena_tui import services
from daena_tui.clock import time_left


def approval_sentence(event: engine.ApprovalRequested, now: float) -> str:
    return f"Approval needed: {event.tool}, expires in {time_left(event.expires_at - now)}"


def approval_requested(app: App[int], event: engine.ApprovalRequested) -> None:
    clock = getattr(app, "clock", None)
    now = clock.now() if clock is not None else event.expires_at
    sentence = approval_sentence(event, now)
    app.notify(
        f"{sentence} (requested by {event.requester}). Press 3 for the inbox.",
        title="Approval needed",
        severity="warning",
        timeout=10,
    )
    app.bell()
    eng = getattr(app, "engine", None)
    voice = services.service(eng, "voice") if eng is not None else None
    announce = getattr(voice, "announce", None)
    if callable(announce):
        with contextlib.suppress(engine.EngineError):
            result = announce(sentence)
            if inspect.isawaitable(result):
                app.run_worker(result, group="voice", exit_on_error=False)
