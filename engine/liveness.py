"""Whether a process that claimed some work on this machine still exists.

Every process sharing a database is on one machine (SQLite's WAL needs shared memory), so
a claim records its host and pid, and a later process can tell an orphan from work still
in progress.
"""

from __future__ import annotations

import os
import sys


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
