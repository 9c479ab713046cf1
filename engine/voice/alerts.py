"""Spoken alerts: short sentences from engine events, rate-limited, spoken off the event loop.

`VoiceAlerts` turns events into sentences (`sentence_for`), queues them, and one worker
drains the queue: it waits a short burst window so that a burst becomes one sentence ("3
approvals waiting"), never speaks twice within `min_interval` seconds (what arrives
meanwhile is coalesced into the next sentence), and speaks through the first backend that
works — Coqui TTS, espeak-ng, else a "bell" outcome the console turns into `app.bell()`.
Synthesis runs in a thread or a subprocess and playback in a subprocess, so the event loop
never waits on audio. Each spoken alert is handed to `on_outcome` (the console shows the
file path when nothing could play it).

Sentences carry only a tool name, a time left, a short task id or a node name — never
arguments, requesters or reasons — and any configured secret is scrubbed as a last guard.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import VoiceError
from engine.events import (
    ApprovalDecided,
    ApprovalRequested,
    AuditAppended,
    Event,
    EventBus,
    NodeHealthChanged,
    TaskChanged,
)
from engine.settings import Settings
from engine.voice.backends import (
    Backend,
    BackendName,
    CoquiBackend,
    EspeakBackend,
    new_output_path,
)
from engine.voice.player import play
from engine.voice.status import VoiceStatus, voice_status

log = logging.getLogger(__name__)

DEFAULT_MIN_INTERVAL_SEC = 10.0
DEFAULT_BURST_WINDOW_SEC = 0.5
MAX_PENDING = 100
MAX_PARTS = 3
REMEMBER_DECIDED = 256
NAME_LIMIT = 40
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\- ]+")
_TASK_SENTENCES = {
    "failed": "Task {id} failed",
    "budget_exhausted": "Task {id} ran out of budget",
    "interrupted": "Task {id} was interrupted",
}
_NODE_SENTENCES = {
    "unreachable": "Node {name} is unreachable",
    "unauthorized": "Node {name} refused the token",
    "error": "Node {name} reports an error",
}
_PLURALS = {
    "approval": "{n} approvals waiting",
    "task": "{n} tasks need attention",
    "node": "{n} nodes are down",
}


@dataclass(frozen=True)
class Alert:
    """One sentence to speak and what it is about: `kind` and `key` (the request, task or
    node) let a batch be counted ("3 approvals waiting") without counting one thing twice."""

    kind: str
    key: str
    text: str


@dataclass(frozen=True)
class SpeechOutcome:
    """What happened to one sentence.

    `backend` is the one that spoke ("coqui", "espeak-ng"), "bell" when none could (the
    console rings the terminal bell), or "muted". `wav_path` is the audio file when one was
    written; `played` says whether a player played it — when not, `message` says why and
    where the file is. `skipped` lists why earlier backends did not speak.
    """

    text: str
    backend: BackendName
    wav_path: Path | None
    played: bool
    message: str
    skipped: tuple[str, ...] = ()

    @property
    def bell(self) -> bool:
        return self.backend == "bell"


def clean_name(value: str, limit: int = NAME_LIMIT) -> str:
    """A name fit to be spoken: letters, digits, `_.-` and spaces, bounded in length."""
    text = " ".join(_UNSAFE.sub(" ", value).split())[:limit].strip()
    return text or "unnamed"


def short_id(value: str) -> str:
    """`task_Ab3xYz...` → `Ab3xYz`: enough to find it in the Tasks list."""
    body = value.split("_", 1)[1] if "_" in value else value
    return clean_name(body, 6)


def time_left(seconds: float) -> str:
    if seconds <= 0:
        return "now"
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(seconds / 3600)
    if hours < 48:
        return f"{hours} hours"
    return f"{math.floor(seconds / 86400)} days"


def alert_for(event: Event, now: float | None = None) -> Alert | None:
    """The alert an event deserves, or None (most events are not worth a voice)."""
    if isinstance(event, ApprovalRequested):
        left = event.expires_at - (time.time() if now is None else now)
        when = "has expired" if left <= 0 else f"expires in {time_left(left)}"
        text = f"Approval needed: {clean_name(event.tool)}, {when}"
        return Alert("approval", event.request_id, text)
    if isinstance(event, TaskChanged):
        template = _TASK_SENTENCES.get(str(event.status))
        if template is None:
            return None
        return Alert("task", event.task_id, template.format(id=short_id(event.task_id)))
    if isinstance(event, AuditAppended) and event.action == "mcp_pin_changed":
        text = f"Tool definition changed: {clean_name(event.tool or 'a tool')}, disabled"
        return Alert("pin", event.tool or "", text)
    if isinstance(event, NodeHealthChanged):
        if event.previous != "ok":
            return None  # only a node that was up and went down is news (not every start-up)
        template = _NODE_SENTENCES.get(str(event.status))
        if template is None:
            return None
        return Alert("node", event.name, template.format(name=clean_name(event.name)))
    return None


def coalesce(alerts: Iterable[Alert]) -> str:
    """One sentence for a batch: one alert as it is, several of a kind counted."""
    groups: dict[str, dict[str, str]] = {}
    for alert in alerts:  # the latest word on each request, task or node wins
        groups.setdefault(alert.kind, {})[alert.key] = alert.text
    parts = [
        next(iter(by_key.values()))
        if len(by_key) == 1
        else _PLURALS.get(kind, "{n} alerts").format(n=len(by_key))
        for kind, by_key in groups.items()
    ]
    if len(parts) > MAX_PARTS:
        parts = [*parts[: MAX_PARTS - 1], f"{len(parts) - MAX_PARTS + 1} more alerts"]
    return ". ".join(parts)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "a secret")
    return text


def spoken_form(text: str) -> str:
    """What the synthesiser reads: `apply_patch` is said "apply patch"."""
    return text.replace("_", " ")


OutcomeHandler = Callable[[SpeechOutcome], None]


class VoiceAlerts:
    """The voice service: `submit(event)` queues, `run(bus)` listens and speaks, `speak(text)`
    says one sentence now (the Models screen's "test voice")."""

    def __init__(
        self,
        settings: Settings,
        *,
        min_interval: float = DEFAULT_MIN_INTERVAL_SEC,
        burst_window: float = DEFAULT_BURST_WINDOW_SEC,
    ) -> None:
        self.settings = settings
        self.min_interval = min_interval
        self.burst_window = burst_window
        self._coqui = CoquiBackend(settings)
        self._backends: tuple[Backend, ...] = (self._coqui, EspeakBackend(settings))
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(MAX_PENDING)
        self._next_allowed = 0.0
        self._speak_lock = asyncio.Lock()
        self._decided: dict[str, None] = {}  # recently decided requests, oldest first

    @property
    def muted(self) -> bool:
        return self.settings.daena_voice_muted

    def status(self) -> VoiceStatus:
        """The voice status, including a Coqui model that failed to load in this process."""
        return voice_status(self.settings, coqui=self._coqui)

    def sentence_for(self, event: Event) -> str | None:
        """The sentence `event` would be spoken as, or None."""
        alert = alert_for(event)
        return redact(alert.text, self._secrets()) if alert else None

    def _secrets(self) -> list[str]:
        return self.settings.secret_values()

    def submit(self, event: Event) -> bool:
        """Queue the event's alert; False when it has none or voice is muted.

        An `ApprovalDecided` queues nothing but withdraws that request's alert if it has not
        been spoken yet: the operator was quicker than the voice.
        """
        if isinstance(event, ApprovalDecided):
            self._decided[event.request_id] = None
            if len(self._decided) > REMEMBER_DECIDED:
                del self._decided[next(iter(self._decided))]
            return False
        alert = alert_for(event)
        if alert is None or self.muted:
            return False
        if self._queue.full():  # keep the newest: the oldest are summarised anyway
            self._queue.get_nowait()
        self._queue.put_nowait(Alert(alert.kind, alert.key, redact(alert.text, self._secrets())))
        return True

    async def run(self, bus: EventBus, on_outcome: OutcomeHandler | None = None) -> None:
        """Listen to the bus and speak alerts until cancelled (a console worker)."""
        with bus.subscription() as events:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.drain(on_outcome))
                while True:
                    self.submit(await events.get())

    async def drain(self, on_outcome: OutcomeHandler | None = None) -> None:
        """The one worker: wait for alerts, coalesce a burst, respect the rate limit, speak."""
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(max(self.burst_window, self._next_allowed - loop.time()))
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [a for a in batch if not (a.kind == "approval" and a.key in self._decided)]
            if not batch:
                continue
            self._next_allowed = loop.time() + self.min_interval
            outcome = await self.speak(coalesce(batch))
            if on_outcome is not None:
                try:
                    on_outcome(outcome)
                except Exception:  # the handler's bug must not silence later alerts
                    log.exception("voice outcome handler failed")

    async def speak(self, text: str) -> SpeechOutcome:
        """Say `text` now through the first backend that works; never raises for audio."""
        if self.muted:
            return SpeechOutcome(text, "muted", None, False, "voice is muted (DAENA_VOICE_MUTED)")
        async with self._speak_lock:  # one voice at a time, in order
            skipped: list[str] = []
            for backend in self._backends:
                reason = backend.unavailable_reason()
                if reason is not None:
                    skipped.append(f"{backend.name}: {reason}")
                    continue
                try:
                    out = await asyncio.to_thread(new_output_path, self.settings)
                    audio = await backend.synthesize(spoken_form(text), out)
                except (VoiceError, OSError) as err:
                    skipped.append(f"{backend.name}: {err}")
                    continue
                result = await play(audio.path)
                return SpeechOutcome(
                    text, backend.name, audio.path, result.played, result.message, tuple(skipped)
                )
            return SpeechOutcome(
                text, "bell", None, False, "no speech backend: ring the bell", tuple(skipped)
            )
