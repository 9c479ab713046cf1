"""A second SQLite connection for point reads that must not queue behind this process's writes.

Every statement on the engine's connection runs on its one thread in arrival order, so a
read issued while a batch of writes commits waits for that commit's fsync. The agent token
check runs before every agent request (the token is checked against its stored hash each
time, so a revocation from another process holds on the next request); waiting behind the
commits, it split the batches of concurrent agent requests (BENCHMARKS.md §11). In WAL mode
a second connection reads the last committed state while the first writes.

The reader is opened on first use, only on the files the engine itself opened (the same
device and inode of the database and of its `-wal`, once SQLite has opened both: a file
swapped in at either path since is refused, as `check_files` refuses to write to one; a
reader on a replaced `-wal` would read pages the engine never wrote, since readers trust the
shared wal-index), and it cannot write (`query_only`; `mode=ro` for a read-only engine).
It sees what is committed: a write of this process once that write's `await` returned, a
write of another process once it committed, as any reader does.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import aiosqlite

from engine.errors import StorageError
from engine.storage.database import (
    BUSY_TIMEOUT_MS,
    FileIdentity,
    _connect,
    file_identity,
    run_on_connection_thread,
)

T = TypeVar("T")


class CommittedReader:
    """Point reads on a connection of their own (opened lazily, closed with the database)."""

    def __init__(self, path: Path, opened: Mapping[str, FileIdentity], *, read_only: bool) -> None:
        self._path = path
        self._opened = dict(opened)  # the database's and its -wal's, as the engine opened them
        self._read_only = read_only
        self._conn: aiosqlite.Connection | None = None
        self._opening = asyncio.Lock()
        self._closed = False  # closed with the database: never opened again

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(raw_connection)` on the reader's thread (several queries, one hand-off)."""
        conn = self._conn or await self._open()
        try:
            return await run_on_connection_thread(conn, fn)
        except sqlite3.Error as err:
            raise StorageError(f"read from {self._path} failed: {err}") from err
        except ValueError as err:  # aiosqlite's "Connection closed": the database closed
            if self._closed:
                raise self._closed_error() from err
            raise

    def _closed_error(self) -> StorageError:
        return StorageError(f"read from {self._path} failed: the database is closed")

    async def _open(self) -> aiosqlite.Connection:
        async with self._opening:
            if self._conn is not None:
                return self._conn
            if self._closed:  # a read that raced the close opens no thread nor file after it
                raise self._closed_error()
            self._check_identity()
            try:
                conn = await _connect(self._path, read_only=self._read_only)
            except (OSError, sqlite3.Error) as err:
                raise StorageError(f"cannot open a reader on {self._path}: {err}") from err
            try:
                conn.row_factory = sqlite3.Row
                await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                await conn.execute("PRAGMA query_only = ON")
                # A first read opens the -wal (SQLite opens it lazily, by path): checked after.
                async with conn.execute("SELECT COUNT(*) FROM sqlite_master") as cursor:
                    await cursor.fetchall()  # ended: no read transaction left open
                self._check_identity()  # still the same files once connected and reading
            except BaseException as err:
                await conn.close()
                if isinstance(err, sqlite3.Error):
                    raise StorageError(f"cannot open a reader on {self._path}: {err}") from err
                raise
            self._conn = conn
            return conn

    def _check_identity(self) -> None:
        main = str(self._path)
        if main not in self._opened or any(
            file_identity(Path(name)) != opened for name, opened in self._opened.items()
        ):
            raise StorageError(
                f"the database file {self._path} is no longer the one this process opened; "
                "nothing is read from it; restart to open the file now at the path"
            )

    async def close(self) -> None:
        """Close the connection, after an opening in flight (which it then closes)."""
        async with self._opening:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
