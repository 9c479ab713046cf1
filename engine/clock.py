"""Time for expiry: the wall clock, checked against the boot clock where the platform has one.

The wall clock (`time.time`) can be stepped: by NTP after a bad start, by an operator, by a
VM restored from a snapshot. Expiry measured on it alone lets a clock set back an hour
accept an expired grant, and a process started with its clock ahead expire the whole inbox
for good. So each grant and request also records where it was made on a clock that is never
stepped: on Linux, CLOCK_BOOTTIME (seconds since boot, counting suspend) with the boot's id.
Within that boot, age is measured on that clock, whatever the wall clock says. Elsewhere,
or after a reboot, the wall clock decides; a decision is then still refused while the wall
clock reads earlier than the moment the grant or request was made (it was set back past
it). docs/reliability.md says what this leaves uncovered.

The engine reads time through a `Clock` (`Engine.open(..., clock=...)`): `SystemClock` in
production, `ManualClock` in tests, which moves only when told and wakes whatever sleeps on
it. A `ManualClock` keeps a boot clock too, advanced with the wall clock by `advance` and
left alone by `step_wall` (what NTP or an operator does), so the boot-clock rule above is
in force under test exactly as in production.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Instant:
    """One reading: the wall clock and, where available, the boot clock and its boot."""

    wall: float
    boot_id: str | None = None
    boot: float | None = None


@functools.cache
def current_boot_id() -> str | None:
    """This boot's id, or None where the platform has no boot clock we can compare."""
    if not hasattr(time, "CLOCK_BOOTTIME"):
        return None
    try:
        text = BOOT_ID_FILE.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def now() -> Instant:
    boot_id = current_boot_id()
    wall = time.time()
    if boot_id is None:
        return Instant(wall)
    return Instant(wall, boot_id, time.clock_gettime(time.CLOCK_BOOTTIME))


def age(created_at: float, boot_id: str | None, created_boot: float | None, at: Instant) -> float:
    """Seconds since creation: on the boot clock within the same boot, else the wall clock."""
    if boot_id is not None and created_boot is not None and boot_id == at.boot_id:
        assert at.boot is not None
        return at.boot - created_boot
    return at.wall - created_at


def remaining(
    created_at: float,
    expires_at: float,
    boot_id: str | None,
    created_boot: float | None,
    at: Instant,
) -> float:
    """Seconds left before expiry (negative once expired)."""
    return (expires_at - created_at) - age(created_at, boot_id, created_boot, at)


def unexpired_sql(at: Instant) -> tuple[str, tuple[object, ...]]:
    """A condition on a row with created_at, expires_at, boot_id, created_boot: true while
    the row has not expired at `at`, by the same rule as `remaining`."""
    return (
        "(CASE WHEN boot_id IS NOT NULL AND created_boot IS NOT NULL AND boot_id = ? "
        "THEN created_boot + (expires_at - created_at) > ? ELSE expires_at > ? END)",
        (at.boot_id, at.boot, at.wall),
    )


def set_back_by(created_at: float, at: Instant) -> float | None:
    """How far the wall clock reads before `created_at`, or None when it does not."""
    return created_at - at.wall if at.wall < created_at else None


class Clock(Protocol):
    """Where the engine reads time and waits: expiry, budgets, deadlines, task waits."""

    def now(self) -> Instant:
        """The wall clock with the boot clock beside it (expiry's reading)."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch (what is stored and shown)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines within one process)."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock's monotonic time."""


class SystemClock:
    """The machine's clocks: `time.time`, CLOCK_BOOTTIME where there is one, `asyncio.sleep`."""

    def now(self) -> Instant:
        return now()

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


SYSTEM = SystemClock()


@dataclass(order=True)
class _Sleeper:
    wake_at: float
    order: int
    future: asyncio.Future[None] = field(compare=False)


class ManualClock:
    """A clock for tests: time moves only by `advance` (wall, boot and monotonic together)
    or `step_wall` (the wall clock alone, as a clock step does). Sleepers wake when
    `advance` reaches their time, in order; `sleepers` says how many wait (a test waits for
    its coroutine to be asleep before it advances)."""

    def __init__(
        self, wall: float = 1_800_000_000.0, *, boot_id: str | None = "manual-boot"
    ) -> None:
        self._wall = wall
        self._mono = 1000.0
        self._boot_id = boot_id
        self._sleepers: list[_Sleeper] = []
        self._order = itertools.count()
        self._watchers: list[asyncio.Future[None]] = []

    def now(self) -> Instant:
        if self._boot_id is None:
            return Instant(self._wall)
        return Instant(self._wall, self._boot_id, self._mono)

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, _Sleeper(self._mono + seconds, next(self._order), future))
        for watcher in self._watchers:
            if not watcher.done():
                watcher.set_result(None)
        self._watchers.clear()
        try:
            await future
        finally:
            if not future.done():
                future.cancel()

    @property
    def sleepers(self) -> int:
        return sum(1 for s in self._sleepers if not s.future.done())

    async def asleep(self, count: int = 1) -> None:
        """Return once at least `count` coroutines sleep on this clock (a test bounds the
        wait with `asyncio.timeout`)."""
        while self.sleepers < count:
            watcher: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._watchers.append(watcher)
            await watcher

    def advance(self, seconds: float) -> None:
        """Move every clock forward by `seconds` and wake the sleepers now due."""
        if seconds < 0:
            raise ValueError("a ManualClock only advances; use step_wall to set it back")
        self._wall += seconds
        self._mono += seconds
        while self._sleepers and self._sleepers[0].wake_at <= self._mono:
            sleeper = heapq.heappop(self._sleepers)
            if not sleeper.future.done():
                sleeper.future.set_result(None)

    def step_wall(self, seconds: float) -> None:
        """Step the wall clock alone (negative: set back); the boot clock is left alone."""
        self._wall += seconds
