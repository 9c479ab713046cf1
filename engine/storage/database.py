"""The engine's database: one long-lived aiosqlite connection, WAL, explicit transactions.

Writes go through `transaction()`, which takes SQLite's write lock up front
(`BEGIN IMMEDIATE`, so a busy database waits on `busy_timeout` instead of failing with
"database is locked" mid-transaction) and an asyncio lock (so coroutines sharing the one
connection never interleave their statements). Events emitted inside a transaction are
stored with it and published on the local bus only after it commits.

A write is acknowledged only while the files at the configured path are still the ones
this connection opened (device and inode of the database and its `-wal`): a file deleted,
moved away or replaced while the process runs would otherwise take every later write with
it, silently. Once the identity differs, the write that sees it and every later one raise
StorageError; reopening (a restart) picks up whatever file is now at the path, unless
`<database>.known` (engine/storage/known.py) shows it lost a known database or its newest
acknowledged records.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite

from engine.errors import StorageError
from engine.events import Event, EventBus
from engine.storage.group_commit import GroupCommit
from engine.storage.known import KnownDatabase, newest_audit_id
from engine.storage.migrations import MIGRATIONS
from engine.storage.write_lock import begin_immediate
from engine.watch import ChangeWatcher, watch_database

if TYPE_CHECKING:
    from engine.storage.reader import CommittedReader

BUSY_TIMEOUT_MS = 30_000
SYNCHRONOUS = "FULL"
"""A commit is acknowledged only once it is on disk: in WAL mode FULL syncs the WAL at every
commit, NORMAL only at checkpoints (the last commits before a power loss or an OS crash
would be lost, acknowledged audit records with them). Cost: benchmarks/bench_durability.py,
docs/reliability.md."""
WATCH_SAFETY_SEC = 2.0
"""The events feed reads the database at least this often even when no file change was
seen (a filesystem whose notifications miss other writers); idle, that is its only wake."""
FileIdentity = tuple[int, int]
T = TypeVar("T")
Params = tuple[Any, ...] | dict[str, Any]


def dumps(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, so equal values hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class SyncTransaction:
    """The synchronous view of an open write transaction, used on the connection's thread.

    Hot paths (an audited run) do all their statements in one function through
    `Transaction.run`, so a write costs one thread hand-off instead of one per statement.
    """

    def __init__(self, conn: sqlite3.Connection, origin: str, events: list[Event]) -> None:
        self.conn = conn
        self._origin = origin
        self._events = events

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def emit(self, *events: Event) -> None:
        self.conn.executemany(
            "INSERT INTO events (ts, origin, kind, payload) VALUES (?, ?, ?, ?)",
            [(time.time(), self._origin, e.kind, dumps(e.payload())) for e in events],
        )
        self._events.extend(events)


class Transaction:
    """Statements of one write transaction, plus the events it emits."""

    def __init__(self, conn: aiosqlite.Connection, origin: str) -> None:
        self._conn = conn
        self._origin = origin
        self.events: list[Event] = []

    async def execute(self, sql: str, params: Params = ()) -> aiosqlite.Cursor:
        return await self._conn.execute(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def emit(self, *events: Event) -> None:
        await self.run(lambda stx: stx.emit(*events))

    async def run(self, fn: Callable[[SyncTransaction], T]) -> T:
        """Run `fn` on the connection's thread, inside this transaction, in one hand-off."""
        return await run_on_connection_thread(
            self._conn, lambda raw: fn(SyncTransaction(raw, self._origin, self.events))
        )


async def _connect(path: Path, *, read_only: bool = False) -> aiosqlite.Connection:
    """Open the file with plain sqlite3 in a worker thread, then hand it to aiosqlite.

    When aiosqlite's own connect fails (a read-only directory, a file that is not a
    database), its worker thread later reports to a future on an event loop that may be
    closed by then, printing an 'Event loop is closed' traceback after the one-line error.
    Opened first, the connection's failure is an ordinary exception here, and aiosqlite's
    connector can no longer fail. Only aiosqlite's thread uses the connection afterwards.
    `read_only` opens the file with SQLite's `mode=ro`: the connection itself cannot write.
    """

    def connect() -> sqlite3.Connection:
        target = f"{path.resolve().as_uri()}?mode=ro" if read_only else str(path)
        return sqlite3.connect(target, isolation_level=None, check_same_thread=False, uri=read_only)

    raw = await asyncio.to_thread(connect)
    return await aiosqlite.Connection(lambda: raw, iter_chunk_size=64)


async def run_on_connection_thread(
    conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]
) -> T:
    """Call `fn(raw_connection)` on aiosqlite's worker thread.

    aiosqlite runs every statement on one thread and offers no public way to run a function
    there; `Connection._execute` is how its own methods do it. This is the one private
    aiosqlite API the engine relies on, kept here so an upgrade has one place to look.
    """
    raw: sqlite3.Connection = conn._conn
    result: T = await conn._execute(fn, raw)  # type: ignore[no-untyped-call]
    return result


def file_identity(path: Path) -> FileIdentity | None:
    """(device, inode) of the file at `path` now; None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class Database:
    """Owns the connection; hands out transactions and read helpers."""

    dialect = "sqlite"
    _watcher: ChangeWatcher | None = None
    _reader: CommittedReader | None = None
    _read_only = False
    _closed = False
    shared_across_hosts = False
    """True when processes on other machines write to the same database (PostgreSQL)."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, bus: EventBus) -> None:
        self._conn = conn
        self.path = path
        self.bus = bus
        self.origin = uuid.uuid4().hex
        self._lock = asyncio.Lock()
        self._group = GroupCommit(self)
        self._files: dict[str, FileIdentity] = {}
        self._known = None if str(path) == ":memory:" else KnownDatabase(path)

    @classmethod
    async def open(cls, path: Path, bus: EventBus, *, read_only: bool = False) -> Database:
        """Open (creating and migrating) the database; `read_only` (the observer) opens an
        existing, current one through a connection that cannot write, and changes nothing."""
        path = path.expanduser()  # noqa: ASYNC240 (no I/O; start-up)
        if read_only and not path.is_file():
            raise StorageError(
                f"DAENA_DB_PATH: {path} does not exist; a read-only console opens only a "
                "database `daena` has already created"
            )
        try:
            if str(path) != ":memory:":
                KnownDatabase(path).check_present()  # a known database gone is an error
                if not read_only:
                    path.parent.mkdir(parents=True, exist_ok=True)
            conn = await _connect(path, read_only=read_only)
        except (OSError, sqlite3.Error) as err:
            raise StorageError(f"DAENA_DB_PATH: cannot open database {path}: {err}") from err
        conn.row_factory = sqlite3.Row
        db = cls(conn, path, bus)
        db._read_only = read_only
        try:
            if read_only:
                await db._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                await db._conn.execute("PRAGMA query_only = ON")  # a second line behind mode=ro
                check_current(path, await db.user_version())
            else:
                await db._configure()
                await db._migrate()
                if db._known is not None:
                    await run_on_connection_thread(conn, db._known.check_newest)
            db._remember_files()
        except (sqlite3.Error, StorageError) as err:
            await db.close()
            if isinstance(err, StorageError):
                raise
            raise StorageError(f"DAENA_DB_PATH: database {path} is not usable: {err}") from err
        return db

    async def _configure(self) -> None:
        await self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await self._conn.execute("PRAGMA journal_mode = WAL")
        await self._conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        await self._conn.execute("PRAGMA foreign_keys = ON")

    def _remember_files(self) -> None:
        if str(self.path) == ":memory:":
            return
        for path in (str(self.path), f"{self.path}-wal"):
            opened = file_identity(Path(path))
            if opened is not None:
                self._files[path] = opened

    def check_files(self) -> None:
        """Raise StorageError when the database or its WAL at the path is not the file this
        connection opened (called after each commit, before the write is acknowledged: a
        write that went to a file deleted or replaced since is never acknowledged, and so
        is no later one, each seeing the same)."""
        for path, opened in self._files.items():
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            if st is None or (st.st_dev, st.st_ino) != opened:
                gone = "deleted or moved" if st is None else "replaced by another file"
                raise StorageError(
                    f"the database file {path} is no longer the one this process opened (it "
                    f"was {gone}): the last write went to the old file and is lost, and "
                    f"nothing more is written; restart to open the file now at {self.path}"
                )

    def commit_sync(self, raw: sqlite3.Connection) -> None:
        """COMMIT the open write transaction on the connection's thread, then check the files
        and note the newest audit record in `<database>.known` (read before the COMMIT,
        while the write lock still holds it: no second read transaction after it)."""
        newest = None if self._known is None else newest_audit_id(raw)
        raw.execute("COMMIT")
        self.check_files()
        if newest is not None:
            self._record(newest)

    async def _newest_before_commit(self) -> int | None:
        if self._known is None:
            return None
        return await run_on_connection_thread(self._conn, newest_audit_id)

    def _record(self, newest: int) -> None:
        if self._known is not None:
            self._known.record(newest)

    def lost_records(self) -> str | None:
        """Acknowledged audit records this database no longer has, as `<database>.known`
        recorded them (engine/storage/known.py), or None."""
        return None if self._known is None else self._known.problem()

    async def integrity_problems(self, *, full: bool = False) -> list[str]:
        """SQLite's own checks of every page: `quick_check` (structure), or with `full`
        `integrity_check` (also index contents against their tables). [] when sound."""
        pragma = "integrity_check" if full else "quick_check"
        try:
            rows = await self.fetchall(f"PRAGMA {pragma}(100)")
        except StorageError as err:  # damage bad enough that the check itself cannot run
            return [err.message]
        found = [str(r[0]) for r in rows]
        return [] if found == ["ok"] else found

    async def user_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        for number, script in enumerate(MIGRATIONS, start=1):
            if await self.user_version() >= number:
                continue
            try:
                await self._conn.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            except sqlite3.OperationalError as err:
                # Another process may have migrated while we waited for the lock.
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
                if await self.user_version() < number:
                    if "fts5" in str(err) or "tokenizer" in str(err):
                        raise StorageError(
                            f"SQLite {sqlite3.sqlite_version} has no FTS5 trigram tokenizer "
                            "(SQLite 3.34 or newer, built with FTS5), which the audit search "
                            f"needs: {err}"
                        ) from err
                    raise
        if await self.user_version() > len(MIGRATIONS):
            raise StorageError(
                f"DAENA_DB_PATH: database {self.path} was created by a newer Daena "
                f"(schema {await self.user_version()}, this version knows {len(MIGRATIONS)})"
            )

    @property
    def shown(self) -> str:
        """Where the database is, for people."""
        return str(self.path)

    async def wait_for_events(self, poll_sec: float) -> None:
        """Until other processes may have stored events: the database's files changed
        (engine/watch.py: inotify, or a stat every `poll_sec` where there is none) or
        WATCH_SAFETY_SEC passed. PostgreSQL's backend overrides this with LISTEN/NOTIFY."""
        if str(self.path) == ":memory:":  # no other process can write to it
            await asyncio.sleep(WATCH_SAFETY_SEC)
            return
        if self._watcher is None:
            self._watcher = watch_database(self.path, poll_sec)
            return  # anything stored before the watch began is read once more
        await self._watcher.wait_for_change(WATCH_SAFETY_SEC)

    async def set_session(self, values: dict[str, str]) -> None:
        """Connection settings (PostgreSQL's `set_config`); SQLite has none."""
        raise StorageError(f"{self.path}: SQLite connections have no session settings")

    async def table_sizes(self) -> dict[str, int]:
        """Bytes per table (SQLite's dbstat when it is compiled in, else {})."""
        try:
            rows = await self.fetchall(
                "SELECT name, SUM(pgsize) FROM dbstat WHERE name IN "
                "(SELECT name FROM sqlite_master WHERE type = 'table') GROUP BY name"
            )
        except StorageError:
            return {}
        return {str(r[0]): int(r[1]) for r in rows}

    async def close(self) -> None:
        self._closed = True
        try:
            if self._reader is not None:  # interrupted (a signal's cancel), the writer still
                await self._reader.close()  # closes: its thread would keep the process alive
        finally:
            await self._conn.close()
        if self._known is not None:
            self._known.close()
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One write transaction; events are published after it commits."""
        async with self._lock:
            tx = Transaction(self._conn, self.origin)
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as err:
                raise StorageError(f"cannot start a write on {self.path}: {err}") from err
            try:
                yield tx
                newest = await self._newest_before_commit()
                await self._conn.execute("COMMIT")
                self.check_files()
                if newest is not None:
                    await run_on_connection_thread(self._conn, lambda _: self._record(newest))
            except BaseException as err:
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        await self._conn.execute("ROLLBACK")
                if isinstance(err, sqlite3.Error):
                    raise StorageError(f"write to {self.path} failed: {err}") from err
                raise
        for event in tx.events:
            self.bus.publish(event)

    async def write(self, fn: Callable[[SyncTransaction], T]) -> T:
        """A whole write transaction as one synchronous function: BEGIN IMMEDIATE, `fn`,
        COMMIT (ROLLBACK on error) in a single hand-off; events published after commit.
        While other writes wait for the connection, `fn` joins them in one transaction and
        one commit, in a savepoint of its own (engine/storage/group_commit.py)."""
        if not self._group.idle(self._lock):
            return await self._group.join(fn)
        events: list[Event] = []

        def body(raw: sqlite3.Connection) -> T:
            begin_immediate(raw, BUSY_TIMEOUT_MS)  # wakes soon after another process commits
            try:
                result = fn(SyncTransaction(raw, self.origin, events))
                self.commit_sync(raw)
            except BaseException:
                if raw.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        raw.execute("ROLLBACK")
                raise
            return result

        async with self._lock:
            try:
                result = await run_on_connection_thread(self._conn, body)
            except sqlite3.Error as err:
                raise StorageError(f"write to {self.path} failed: {err}") from err
        for event in events:
            self.bus.publish(event)
        return result

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Several queries as one synchronous function, in one hand-off to the connection's
        thread. `fn` must only read."""
        try:
            return await run_on_connection_thread(self._conn, fn)
        except sqlite3.Error as err:
            raise StorageError(f"read from {self.path} failed: {err}") from err

    async def execute_local(self, sql: str) -> None:
        """A statement that changes only this connection (its temporary schema)."""
        try:
            await self._conn.execute(sql)
        except sqlite3.Error as err:
            raise StorageError(f"cannot prepare the connection to {self.path}: {err}") from err

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self._read(sql, params, one=True)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return await self._read(sql, params, one=False)

    async def read_committed(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`read(fn)` on the last committed state, not queued behind this process's writes
        (a connection of its own, engine/storage/reader.py): for the checks every request
        or call makes. `read` where a second connection would see another database
        (`:memory:`)."""
        if str(self.path) == ":memory:":
            return await self.read(fn)
        if self._reader is None:
            if self._closed:  # a reader opened now would outlive the database
                raise StorageError(f"read from {self.path} failed: the database is closed")
            from engine.storage.reader import CommittedReader

            self._reader = CommittedReader(self.path, self._files, read_only=self._read_only)
        return await self._reader.read(fn)

    async def fetchone_committed(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """`fetchone` through `read_committed`."""
        rows = await self.read_committed(_rows(sql, params, one=True))
        return rows[0] if rows else None

    async def _read(self, sql: str, params: Params, *, one: bool) -> list[sqlite3.Row]:
        """A query and its rows in one hand-off to the connection's thread."""
        return await self.read(_rows(sql, params, one=one))

    async def events_after(self, last_id: int, limit: int = 500) -> list[sqlite3.Row]:
        return await self.fetchall(
            "SELECT id, origin, kind, payload FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (last_id, limit),
        )

    async def last_event_id(self) -> int:
        row = await self.fetchone("SELECT COALESCE(MAX(id), 0) FROM events")
        return int(row[0]) if row else 0


def _rows(sql: str, params: Params, *, one: bool) -> Callable[[sqlite3.Connection], list[Any]]:
    """The query as a function of a connection: its rows (at most one with `one`)."""

    def query(raw: sqlite3.Connection) -> list[Any]:
        cursor = raw.execute(sql, params)
        try:
            if one:
                row = cursor.fetchone()
                return [row] if row is not None else []
            return cursor.fetchall()
        finally:
            cursor.close()

    return query


def check_current(where: object, version: int) -> None:
    """A read-only connection cannot migrate: the schema must already be this version's."""
    if version != len(MIGRATIONS):
        raise StorageError(
            f"database {where} is at schema {version} and this version needs "
            f"{len(MIGRATIONS)}; a read-only console cannot migrate it: run any `daena` "
            "command with this version once first"
        )


def placeholders(values: Iterable[Any]) -> str:
    return ",".join("?" for _ in values)
