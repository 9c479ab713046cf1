"""Whether a process that claimed some work on this machine still exists.

Every process sharing a database is on one machine (SQLite's WAL needs shared memory), so
a claim records its host and pid, and a later process can tell an orphan from work still
in progress. Pids are reused, so where the platform tells (Linux) a claim also records the
process's start (`process_token`): a live pid that started at another time, or in another
boot, is another process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def pid_alive(pid: int) -> bool | None:
    """Whether a local process exists; None where that cannot be asked safely (Windows)."""
    if sys.platform == "win32":
        return None  # os.kill(pid, 0) would terminate the process there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def process_token(pid: int) -> str | None:
    """What tells one process from a later one with the same pid: the boot and the start
    time (Linux /proc); None where the platform does not say."""
    try:
        boot = _BOOT_ID.read_text(encoding="ascii").strip()
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the name in () may hold spaces
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None  # field 22: starttime


def owner_alive(pid: int, token: str | None) -> bool | None:
    """Whether the process that recorded (`pid`, `token`) still runs; None: cannot tell."""
    alive = pid_alive(pid)
    if alive and token is not None:
        now = process_token(pid)
        if now is not None and now != token:
            return False  # the pid now belongs to another process
    return alive
