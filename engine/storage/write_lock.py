"""Taking SQLite's write lock without SQLite's sleeping busy handler.

When another process holds the write lock, `BEGIN IMMEDIATE` fails with SQLITE_BUSY and
SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 … 100 ms between tries, however
soon the lock is free: with two `daena serve` workers (or the console, the CLI and a server)
writing at once, a waiter often slept long after the other commit was done (p99 530-860 ms
at 16 clients over two workers, against 140-270 ms for one). Here the wait is a loop of
short sleeps (0.2 ms doubling to 2 ms), so a waiter takes the lock within about 2 ms of its
release, still for at most the configured `busy_timeout`.
"""

from __future__ import annotations

import sqlite3
import time

FIRST_WAIT_SEC = 0.0002
LONGEST_WAIT_SEC = 0.002


def begin_immediate(raw: sqlite3.Connection, timeout_ms: int) -> None:
    """`BEGIN IMMEDIATE` on `raw`, waiting up to `timeout_ms` for another process's write
    lock; the connection's `busy_timeout` is `timeout_ms` again afterwards."""
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + timeout_ms / 1000
        wait = FIRST_WAIT_SEC
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                busy = getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT_SEC)
    finally:
        raw.execute(f"PRAGMA busy_timeout = {timeout_ms}")
