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
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

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
