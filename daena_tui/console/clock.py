"""The console's notion of "now", injectable so snapshots and tests are deterministic.

Everything time-dependent on screen (time left on approval requests, audit timestamps,
export file names) goes through one `Clock`, never through `time.time()` directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, tzinfo


class Clock:
    """Wall-clock time and its formatting; `tz=None` means the machine's local zone."""

    def __init__(self, now: Callable[[], float] = time.time, tz: tzinfo | None = None) -> None:
        self._now = now
        self.tz = tz

    def now(self) -> float:
        return self._now()

    def datetime(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.tz)

    def format(self, ts: float | None) -> str:
        """`YYYY-MM-DD HH:MM:SS`, or "" for no time."""
        return "" if ts is None else self.datetime(ts).strftime("%Y-%m-%d %H:%M:%S")

    def short(self, ts: float | None) -> str:
        """`MM-DD HH:MM:SS`: enough for a list column at 80 columns."""
        return "" if ts is None else self.datetime(ts).strftime("%m-%d %H:%M:%S")

    def stamp(self) -> str:
        """A file-name-safe stamp of now (exports)."""
        return self.datetime(self.now()).strftime("%Y%m%d-%H%M%S")


def time_left(seconds: float) -> str:
    """Short countdown text: `29:59`, `1h05m`, `expired`."""
    seconds = int(seconds)
    if seconds <= 0:
        return "expired"
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 60:d}:{seconds % 60:02d}"
