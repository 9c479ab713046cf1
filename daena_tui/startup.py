"""How every `daena` entry point reports a start-up problem: one plain line on stderr,
exit code 2, no traceback (the CLI, the console and `daena-tui` alike).

A start-up problem is anything that stops the engine from opening: a bad or non-UTF-8
`.env` or settings file, a missing, read-only or corrupt database.
"""

from __future__ import annotations

import asyncio
import sys
import threading

from engine.safety.display import marks_only

EXIT_STARTUP = 2
# aiosqlite's worker threads. One whose connect failed is stopped with a future nobody
# awaits; it resolves that future later, on a loop that may be closed by then, and prints
# an 'Event loop is closed' thread traceback after the one-line error.
_DB_THREAD = "_connection_worker_thread"
SETTLE_SEC = 5.0


def report(message: str) -> int:
    """Write the one line (agent-free, but quoted paths may hold anything) and return 2."""
    sys.stderr.write(f"daena: {marks_only(' '.join(message.split()))}\n")
    sys.stderr.flush()
    return EXIT_STARTUP


def threads_now() -> frozenset[threading.Thread]:
    return frozenset(threading.enumerate())


async def settle_database_threads(before: frozenset[threading.Thread]) -> None:
    """Let the database worker threads started since `before` (this command's or this
    console's own, now closed or failed) end while the event loop still runs; another
    engine's in the same process is left alone. Each wait is bounded by SETTLE_SEC."""
    for thread in threading.enumerate():
        if thread not in before and _DB_THREAD in thread.name:
            await asyncio.to_thread(thread.join, SETTLE_SEC)
