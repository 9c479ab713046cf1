"""Start-up housekeeping that must not make start-up cost grow with history.

Two kinds of rows pile up: old `events` (a feed for live updates, not a history: the audit
log is the history) and approval requests that expired while no process was running. Both
used to be cleared inside `Engine.open`, in one write transaction each: at 2,000,000 events
an unindexed `DELETE ... WHERE ts < ?` took 224 ms, and 9,975 expired requests 2.0 s, with
the write lock held throughout.

Now `Sweeper.run` does them in the background after open, in bounded batches, each its own
short transaction (events by the `events_by_ts` index, migration 12; requests by
`approval_requests_by_status`), and pauses between batches so runs interleave. A sweep cut
short (the process ends) leaves the rest for the next one: each batch commits what it did.
A sweep with nothing to do only reads (no commit, no fsync, no write lock: every `daena`
command opens the engine). Nothing depends on the sweep for safety: an expired request
fails closed whether or not it is marked yet (engine/approvals.py), and whoever first
finds one expired marks it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from functools import partial

from engine import clock
from engine.approvals import EXPIRY_BATCH, Approvals
from engine.storage.database import Database, SyncTransaction

EVENT_RETENTION_SEC = 7 * 24 * 3600
EVENT_BATCH = 2_000
"""Old events deleted per transaction (a few milliseconds through the time index)."""
PAUSE_SEC = 0.002
"""Between batches: runs waiting for the write lock get it (and a few more come in)."""


def prune_events_batch(stx: SyncTransaction, cutoff: float, limit: int) -> int:
    """Inside a write: delete up to `limit` events older than `cutoff`; returns how many."""
    cursor = stx.execute(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?)",
        (cutoff, limit),
    )
    return int(cursor.rowcount)


def has_old_events(conn: sqlite3.Connection, cutoff: float) -> bool:
    return (
        conn.execute("SELECT 1 FROM events WHERE ts < ? LIMIT 1", (cutoff,)).fetchone() is not None
    )


def has_expired_requests(conn: sqlite3.Connection) -> bool:
    unexpired, params = clock.unexpired_sql(clock.now())
    found = conn.execute(
        f"SELECT 1 FROM approval_requests WHERE status = 'pending' AND NOT {unexpired} LIMIT 1",
        params,
    )
    return found.fetchone() is not None


class Sweeper:
    """Runs the sweeps in batches; `idle` is set whenever no sweep is in progress."""

    def __init__(
        self,
        db: Database,
        approvals: Approvals,
        *,
        event_retention_sec: float = EVENT_RETENTION_SEC,
        event_batch: int = EVENT_BATCH,
        expiry_batch: int = EXPIRY_BATCH,
    ) -> None:
        self._db = db
        self._approvals = approvals
        self.event_retention_sec = event_retention_sec
        self.event_batch = event_batch
        self.expiry_batch = expiry_batch
        self.batches = 0
        """Transactions the sweeps have committed (tests check the work was split)."""
        self.idle = asyncio.Event()
        self.idle.set()

    async def run(self) -> tuple[int, int]:
        """Every sweep to the end, batch by batch: (events deleted, requests expired)."""
        self.idle.clear()
        try:
            events = await self.prune_events()
            expired = await self.expire_requests()
        finally:
            self.idle.set()
        return events, expired

    async def prune_events(self, older_than_sec: float | None = None) -> int:
        """Delete events older than the retention, `event_batch` per transaction."""
        retention = self.event_retention_sec if older_than_sec is None else older_than_sec
        cutoff = time.time() - retention
        total = 0
        while await self._db.read(partial(has_old_events, cutoff=cutoff)):  # no write if none
            deleted = await self._db.write(
                partial(prune_events_batch, cutoff=cutoff, limit=self.event_batch)
            )
            self.batches += 1
            total += deleted
            if deleted < self.event_batch:
                return total
            await asyncio.sleep(PAUSE_SEC)  # let runs in
        return total

    async def expire_requests(self) -> int:
        """Mark expired requests, `expiry_batch` per transaction, each audited once."""
        total = 0
        while await self._db.read(has_expired_requests):  # no write (no fsync) if none
            marked, seen = await self._db.write(
                partial(self._approvals.expire_batch, limit=self.expiry_batch)
            )
            self.batches += 1
            total += marked
            if seen < self.expiry_batch:
                return total
            await asyncio.sleep(PAUSE_SEC)
        return total
