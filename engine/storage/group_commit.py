"""Group commit for `Database.write`: writes that queue up share one transaction.

At `synchronous=FULL` every commit waits for an fsync of the WAL (docs/reliability.md), and
SQLite holds its write lock meanwhile, so one process alone commits at most one fsync's worth
of writes at a time. When writes are already waiting for the connection (many API clients,
ten tools finishing at once) they are taken together: one `BEGIN IMMEDIATE`, each write in its
own SAVEPOINT, one COMMIT, one fsync, one hand-off to the connection's thread.

What each caller is promised does not change:

- it returns only after the COMMIT that holds its write (acknowledged means durable);
- a write that raises is rolled back alone (`ROLLBACK TO` its savepoint) and its caller gets
  its error; the others commit; an error that ends the whole transaction (the disk full, the
  file gone) fails every write of the batch, none of them acknowledged;
- the events of a write are published only after that commit, in the order the writes ran;
- a caller cancelled before its write started takes it out of the queue, so it never runs
  (one cancelled after its batch started may still commit, as with a single write whose
  hand-off had begun);
- the writes of one batch run one after another in arrival order, each seeing the ones
  before it, exactly as if each were its own transaction; another process sees all or none.

A write that finds the connection idle and nothing queued runs alone, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from engine.errors import StorageError
from engine.events import Event
from engine.storage.write_lock import begin_immediate

if TYPE_CHECKING:
    from engine.storage.database import Database, SyncTransaction

T = TypeVar("T")
GROUP_MAX = 64
"""At most this many writes share a transaction (bounds how long the write lock is held)."""
_SAVEPOINT = "daena_group_write"


class _Write(Generic[T]):
    __slots__ = ("events", "fn", "future")

    def __init__(self, fn: Callable[[SyncTransaction], T], future: asyncio.Future[T]) -> None:
        self.fn = fn
        self.future = future
        self.events: list[Event] = []


class GroupCommit:
    """The queue of writes waiting for one database's connection, and the task draining it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queued: list[_Write[Any]] = []
        self._drainer: asyncio.Task[None] | None = None

    def idle(self, lock: asyncio.Lock) -> bool:
        """Nothing is writing and nothing waits: a write may go alone."""
        return not lock.locked() and not self._queued

    async def join(self, fn: Callable[[SyncTransaction], T]) -> T:
        """Queue `fn` for the next batch and wait for its outcome (after its commit)."""
        job: _Write[T] = _Write(fn, asyncio.get_running_loop().create_future())
        self._queued.append(job)
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain(), name="daena-group-commit")
        try:
            return await job.future
        except asyncio.CancelledError:
            with contextlib.suppress(ValueError):
                self._queued.remove(job)  # not started yet: it never runs
            raise

    async def _drain(self) -> None:
        try:
            while self._queued:
                batch = [job for job in self._queued[:GROUP_MAX] if not job.future.done()]
                del self._queued[:GROUP_MAX]
                if batch:
                    await self._commit(batch)
        except BaseException:
            for job in self._queued:
                job.future.cancel()
            self._queued.clear()
            raise
        finally:
            self._drainer = None

    async def _commit(self, batch: list[_Write[Any]]) -> None:
        db = self._db
        try:
            async with db._lock:
                outcomes = await _on_thread(db, partial(self._body, batch))
        except asyncio.CancelledError:
            for job in batch:
                job.future.cancel()
            raise
        except Exception as err:  # the batch as a whole failed: nothing acknowledged
            for job in batch:
                _fail(job, _storage_error(db, err))
            return
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if not ok:
                _fail(job, _storage_error(db, value))
                continue
            for event in job.events:
                db.bus.publish(event)
            if not job.future.done():
                job.future.set_result(value)

    def _body(self, batch: list[_Write[Any]], raw: sqlite3.Connection) -> list[tuple[bool, Any]]:
        """On the connection's thread: the whole batch, one transaction, one commit."""
        from engine.storage.database import BUSY_TIMEOUT_MS, SyncTransaction

        db = self._db
        begin_immediate(raw, BUSY_TIMEOUT_MS)
        outcomes: list[tuple[bool, Any]] = []
        try:
            for job in batch:
                raw.execute(f"SAVEPOINT {_SAVEPOINT}")
                try:
                    value = job.fn(SyncTransaction(raw, db.origin, job.events))
                except Exception as err:
                    if not raw.in_transaction:
                        raise  # it ended the whole transaction: no write of the batch stays
                    raw.execute(f"ROLLBACK TO {_SAVEPOINT}")
                    raw.execute(f"RELEASE {_SAVEPOINT}")
                    job.events.clear()
                    outcomes.append((False, err))
                else:
                    raw.execute(f"RELEASE {_SAVEPOINT}")
                    outcomes.append((True, value))
            db.commit_sync(raw)
        except BaseException:
            if raw.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    raw.execute("ROLLBACK")
            raise
        return outcomes


async def _on_thread(db: Database, fn: Callable[[sqlite3.Connection], T]) -> T:
    from engine.storage.database import run_on_connection_thread

    return await run_on_connection_thread(db._conn, fn)


def _storage_error(db: Database, err: BaseException) -> BaseException:
    """What `Database.write` raises for it: an SQLite error as StorageError, others as is."""
    if isinstance(err, sqlite3.Error):
        wrapped = StorageError(f"write to {db.path} failed: {err}")
        wrapped.__cause__ = err
        return wrapped
    return err


def _fail(job: _Write[Any], err: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(err)
