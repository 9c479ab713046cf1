"""The expiry warning: a pending request (or a task's deadline) entering the last
`DAENA_EXPIRY_WARNING_SECONDS` gets a highlighted time-left cell, one notification and,
where voice is on, one spoken sentence — once per entry into the window (an extension that
takes it out of the window lets it warn again when it comes back).

`ExpiryWatch` runs from the engine's opening, whatever section is shown (the inbox need
never have been opened): it keeps the pending requests' expiry times and the running tasks'
budgets in memory, re-read when an event changes them, and each second only compares them
with the clock — while there is something to compare: with no request pending and no task
running to a deadline it does not wake at all (an idle console, BENCHMARKS.md §18)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, cast

import engine
from daena_tui.console.alerts import expiring

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.worker import WorkType

    from daena_tui.console.app import DaenaApp

WATCHED = 500  # soonest-expiring pending requests kept (the inbox's first page)


@cache
def reload_on() -> tuple[type[engine.Event], ...]:
    """The events that change what is watched. A function: the event classes load with
    the engine, after the first frame (their module is ~10 ms of dataclasses)."""
    from engine.events import ApprovalExtended

    return (engine.ApprovalRequested, engine.ApprovalDecided, ApprovalExtended, engine.TaskChanged)


class ExpiryWarnings:
    """Remembers which keys were warned about while they stay in the window."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._warned: set[str] = set()

    def near(self, seconds_left: float) -> bool:
        return 0 < seconds_left <= self.seconds

    def due(self, items: Iterable[tuple[str, float]]) -> list[str]:
        """The keys that entered the window since the last call (each once)."""
        seen = dict(items)
        self._warned = {key for key in self._warned if key in seen and self.near(seen[key])}
        new = [key for key, left in seen.items() if self.near(left) and key not in self._warned]
        self._warned.update(new)
        return new


class ExpiryWatch:
    """The console's expiry warnings, from start to exit (see the module docstring)."""

    def __init__(self, app: DaenaApp, seconds: float) -> None:
        self.app = app
        self.requests = ExpiryWarnings(seconds)
        self.deadlines = ExpiryWarnings(seconds)
        self.pending: list[engine.ApprovalRequest] = []
        self.running: list[engine.Task] = []
        self.ticks = 0  # seconds compared so far (tests wait on it)
        self._timer: Timer | None = None  # the per-second compare, while anything is watched

    def start(self) -> None:
        if self.requests.seconds <= 0:
            return  # off
        self.reload()

    def on_event(self, event: object) -> None:
        if self.requests.seconds > 0 and isinstance(event, reload_on()):
            self.reload()

    def reload(self) -> None:
        # The method, not a coroutine: a reload replaced before it starts leaves none unawaited.
        load = cast("WorkType[None]", self._load)
        self.app.run_worker(load, group="expiry-watch", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        eng = self.app.eng
        try:
            pending = await eng.approvals.list("pending", WATCHED)
            running = await eng.tasks.list(engine.TaskStatus.RUNNING)
        except engine.EngineError:
            return  # the sections say what is wrong with the database; try at the next event
        self.pending = pending
        self.running = [t for t in running if t.budget.max_seconds is not None]
        self.tick()

    def _watching(self, now: float) -> bool:
        """Anything that can still enter the window: an unexpired request, a deadline."""
        return bool(self.running) or any(r.seconds_left(now) > 0 for r in self.pending)

    def tick(self) -> None:
        self.ticks += 1
        now = self.app.clock.now()
        if not self._watching(now):
            if self._timer is not None:  # nothing left: sleep until an event reloads
                self._timer.stop()
                self._timer = None
        elif self._timer is None:
            self._timer = self.app.set_interval(1.0, self.tick)
        requests = {r.id: r for r in self.pending}
        for key in self.requests.due((r.id, r.seconds_left(now)) for r in self.pending):
            left = requests[key].seconds_left(now)
            hint = "+ in the inbox (alt+3) extends it."
            expiring(self.app, f"Approval for {requests[key].tool}", left, hint)
        ends = {t.id: (t.budget.max_seconds or 0) - t.running_seconds(now) for t in self.running}
        for task_id in self.deadlines.due(ends.items()):
            hint = "Its budget (max_seconds) ends it then."
            expiring(self.app, f"Task {task_id} deadline", ends[task_id], hint)
