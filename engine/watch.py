"""Waiting for another process's write to the database without polling the database.

The events feed (`Engine._watch`) reads new `events` rows after each wake. Instead of a
query every 200 ms, a `ChangeWatcher` sleeps until the database's files change: on Linux
an inotify watch on the database's directory (the kernel wakes us; an idle console does
not wake at all), elsewhere a stat of the database and its WAL every `poll_sec` (a system
call, no query, no thread hand-off). PostgreSQL needs neither: its backend waits on
LISTEN/NOTIFY (engine/storage/postgres.py) behind the same `wait_for_events`.

A wake only says "the files changed" (our own writes and checkpoints wake it too); the
reader then asks the database what is new, so a spurious wake costs one cheap query and a
missed one is impossible while the watch holds: inotify queues changes that happen while
the reader is busy. One subtlety: a commit's last write to the WAL comes before its fsync
and before the WAL index (shared memory, which makes no notification) says it is there, so
the first read after a wake may not see it yet; the watcher wakes the reader again after
RECHECK_SEC delays (five more cheap reads per burst of writes, none while idle).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Protocol

try:  # Linux only; elsewhere the stat watcher
    from asyncinotify import Inotify, Mask
except (ImportError, OSError, AttributeError):  # pragma: no cover - not Linux
    Inotify = None  # type: ignore[assignment,misc]


RECHECK_SEC = (0.05, 0.1, 0.25, 0.5, 1.0)
"""After a change, wake again after these delays (since the previous wake) unless
another change comes first: a commit becomes visible only after its fsync."""
MIN_GAP_SEC = 0.05
"""Wakes at most this often: under a stream of commits (an agent writing 50 runs a second)
one read covers every commit of the last 50 ms instead of one read per commit. The first
change after a quiet spell wakes at once."""


class ChangeWatcher(Protocol):
    """Something that can say "the database may have changed" without reading it."""

    async def wait_for_change(self, timeout: float) -> bool:  # noqa: ASYNC109 (it is the API)
        """True as soon as a change may have happened; False after `timeout` s without."""
        ...

    def close(self) -> None: ...


def database_files(db_path: Path) -> tuple[Path, Path]:
    """The files another process's commit touches: the database and its WAL."""
    return db_path, Path(f"{db_path}-wal")


class InotifyWatcher:
    """Kernel notifications for the database's directory, filtered to its two files."""

    def __init__(self, db_path: Path) -> None:
        assert Inotify is not None
        self._names = {p.name for p in database_files(db_path)}
        self._rechecks: tuple[float, ...] = ()
        self._last_wake = 0.0
        self._inotify = Inotify(sync_timeout=0)  # sync_get: what is queued, never waits
        try:
            self._inotify.add_watch(
                db_path.parent,
                Mask.MODIFY | Mask.CREATE | Mask.MOVED_TO | Mask.DELETE | Mask.CLOSE_WRITE,
            )
        except BaseException:
            self._inotify.close()
            raise

    def _ours(self, name: Path | None) -> bool:
        # No name: the queue overflowed or the watch went away: assume a change.
        return name is None or name.name in self._names

    async def wait_for_change(self, timeout: float) -> bool:  # noqa: ASYNC109
        rechecks = self._rechecks
        wait = min(timeout, rechecks[0]) if rechecks else timeout
        try:
            async with asyncio.timeout(wait):
                while not self._ours((await self._inotify.get()).name):
                    pass
        except TimeoutError:
            if not rechecks:
                return False
            self._rechecks = rechecks[1:]
            return True  # a commit seen being written may be visible now
        loop = asyncio.get_running_loop()
        early = self._last_wake + MIN_GAP_SEC - loop.time()
        if early > 0:
            await asyncio.sleep(early)  # later commits join this wake
        self._drain()
        self._rechecks = RECHECK_SEC
        self._last_wake = loop.time()
        return True

    def _drain(self) -> None:
        """Forget the changes already queued: one read of the database covers them all."""
        with contextlib.suppress(OSError):
            while self._inotify.sync_get() is not None:
                pass

    def close(self) -> None:
        self._inotify.close()


Signature = tuple[tuple[int, int, int] | None, ...]


class StatWatcher:
    """Where there is no inotify: a stat of the two files every `poll_sec`."""

    def __init__(self, db_path: Path, poll_sec: float) -> None:
        self._files = database_files(db_path)
        self._poll = poll_sec
        self._seen = self._signature()

    def _signature(self) -> Signature:
        out: list[tuple[int, int, int] | None] = []
        for path in self._files:
            try:
                st = os.stat(path)
            except OSError:
                out.append(None)
            else:
                out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(out)

    async def wait_for_change(self, timeout: float) -> bool:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = self._signature()
            if now != self._seen:
                self._seen = now
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.sleep(min(self._poll, left))

    def close(self) -> None:
        pass


def watch_database(db_path: Path, poll_sec: float) -> ChangeWatcher:
    """The cheapest watcher this system offers for the SQLite database at `db_path`."""
    if Inotify is not None:
        with contextlib.suppress(OSError):
            return InotifyWatcher(db_path)
    return StatWatcher(db_path, poll_sec)
