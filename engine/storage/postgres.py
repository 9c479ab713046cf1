"""The engine's database on a PostgreSQL server: the same interface as the SQLite `Database`.

One long-lived psycopg 3 connection per process, driven from one worker thread (as
aiosqlite drives SQLite's), so the engine's synchronous hot paths (`write(fn)`,
`read(fn)`) run unchanged: `fn` gets a `PgConnection` that speaks SQLite's SQL through
`engine.storage.dialect`. Every write transaction first takes one advisory lock
(`WRITE_LOCK`), held until it commits: writers from every host are serialised exactly as
SQLite's `BEGIN IMMEDIATE` serialises them on one machine, so every read-then-write the
engine does inside a transaction (the audit chain's head, a grant consumed once, a request
decided once, a task claimed once) keeps the guarantee it has on SQLite. Readers never wait.

Failures: a serialisation failure or deadlock rolls back and `write(fn)` runs `fn` again
(bounded); a connection lost before COMMIT was sent is reconnected and retried the same way
(nothing was written); one lost during COMMIT raises StorageError saying the outcome is
unknown. A server that cannot be reached raises StorageError naming the URL without its
password; the next call tries to connect again, so a process recovers when it is back.

Live updates: every transaction that stores events sends `NOTIFY daena_events`; a listening
connection wakes the events feed (`wait_for_events`), so an idle console sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import psycopg
import psycopg.errors
import psycopg.rows
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format

from engine.errors import StorageError
from engine.events import Event, EventBus
from engine.storage.database import (
    Database,
    Params,
    SyncTransaction,
    Transaction,
    check_current,
)
from engine.storage.dialect import NUL_STANDIN, POSTGRESQL, to_postgres, without_nul
from engine.storage.migrations import MIGRATIONS
from engine.storage.postgres_migrations import postgres_migration
from engine.storage.urls import redact_text, redact_url

T = TypeVar("T")
WRITE_LOCK = 0x6461656E  # "daen": the one lock every write transaction holds
MIGRATE_LOCK = 0x6461656D
LOCK_TIMEOUT_MS = 30_000  # as SQLite's busy_timeout: a write waits this long for the lock
RETRIES = 5
NOTIFY_CHANNEL = "daena_events"
LISTEN_SAFETY_SEC = 30.0
"""An idle events feed wakes at least this often even with no notification (a safety net
for a listener that died unnoticed; it reconnects then)."""
CONNECT_TIMEOUT_SEC = 10


class Row(tuple[Any, ...]):
    """A result row read by index or by column name, as `sqlite3.Row` is."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _rows(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    index = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


class _NumericLoader(Loader):
    """SUM() of integers is `numeric` on PostgreSQL: read it as SQLite gives it."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return int(text) if text.lstrip("-").isdigit() else float(text)


class _BoolDumper(Dumper):
    """SQLite has no booleans: the schema's flags are integers. True is sent as an untyped
    '1', which the server reads as the context needs: 1 in an integer column, true in a
    condition (`CASE WHEN ? …`)."""

    format = Format.TEXT
    oid = 0  # unknown: typed by the statement

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class PgCursor:
    """What the engine reads from a cursor: rows, `rowcount`."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> None:
        return None

    def fetchone(self) -> Row | None:
        if self._cursor.description is None:
            return None
        return cast("Row | None", self._cursor.fetchone())

    def fetchall(self) -> list[Row]:
        if self._cursor.description is None:
            return []
        return cast("list[Row]", self._cursor.fetchall())

    def __iter__(self) -> Iterator[Row]:
        if self._cursor.description is None:
            return iter(())
        return cast("Iterator[Row]", iter(self._cursor))

    def execute(self, sql: str, params: Params = ()) -> PgCursor:
        self._cursor.execute(to_postgres(sql), _params(params))
        return self

    @property
    def row_factory(self) -> object:
        return self._cursor.row_factory

    @row_factory.setter
    def row_factory(self, factory: object) -> None:
        """None: plain tuples (as sqlite3's `cursor.row_factory = None`)."""
        self._cursor.row_factory = cast(Any, psycopg.rows.tuple_row if factory is None else factory)

    def close(self) -> None:
        self._cursor.close()

    async def __aenter__(self) -> PgCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class PgConnection:
    """The raw-connection view handed to a module's synchronous function (`read`/`write`):
    SQLite's SQL in, psycopg underneath. `dialect` tells a module which backend it is on."""

    dialect = POSTGRESQL

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = ()) -> PgCursor:
        return PgCursor(self.raw.execute(to_postgres(sql), _params(params)))

    def cursor(self) -> PgCursor:
        return PgCursor(self.raw.cursor())

    def executemany(self, sql: str, seq: Any) -> PgCursor:
        cursor = self.raw.cursor()
        cursor.executemany(to_postgres(sql), [_params(p) for p in seq])
        return PgCursor(cursor)

    def executescript(self, script: str) -> None:
        self.raw.execute(script.encode())  # several statements, no parameters

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


def _params(params: Params) -> Any:
    """Parameters as psycopg takes them; NUL in a text becomes NUL_STANDIN (PostgreSQL's
    text cannot hold one; the audit log replaces it before hashing: engine/audit.py)."""
    if isinstance(params, dict):
        return without_nul(params)
    return tuple(
        p.replace("\x00", NUL_STANDIN) if isinstance(p, str) and "\x00" in p else p for p in params
    )


class PgTransaction(Transaction):
    """`Transaction` on PostgreSQL: each statement is one hand-off to the worker thread."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.events: list[Event] = []
        self._db = db
        self._origin = db.origin

    async def execute(self, sql: str, params: Params = ()) -> Any:
        return await self._db._call(lambda conn: conn.execute(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> Any:
        return await self._db._call(lambda conn: conn.execute(sql, params).fetchone())

    async def fetchall(self, sql: str, params: Params = ()) -> Any:
        return await self._db._call(lambda conn: conn.execute(sql, params).fetchall())

    async def run(self, fn: Callable[[SyncTransaction], T]) -> T:
        return await self._db._call(
            lambda conn: fn(SyncTransaction(cast(Any, conn), self._origin, self.events))
        )


def _lost(err: BaseException) -> bool:
    """The connection itself failed (the server went away, or ended this backend)."""
    return isinstance(err, psycopg.OperationalError) and not isinstance(
        err, (psycopg.errors.TransactionRollback, psycopg.errors.LockNotAvailable)
    )


class _Autocommit:
    """`db._conn.execute(sql, params)` as on SQLite's connection: one statement committed on
    its own, outside the write lock (repair tools and tests that edit rows directly)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def execute(self, sql: str, params: Params = ()) -> PgCursor:
        return await self._db._call(lambda conn: conn.execute(sql, params))

    async def commit(self) -> None:
        return None


class PostgresDatabase(Database):
    """`Database` on a PostgreSQL server (see the module docstring)."""

    dialect = POSTGRESQL
    shared_across_hosts = True

    def __init__(self, url: str, key_base: Path, bus: EventBus) -> None:
        # Not Database.__init__: there is no SQLite connection or file to watch.
        import uuid

        self.url = url
        self._shown = redact_url(url)
        self.path = key_base  # names the audit head's key file (engine/audit_head.py)
        self.bus = bus
        self.origin = uuid.uuid4().hex
        self._lock = asyncio.Lock()
        self._files = {}
        self._known = None
        self._conn = cast(Any, _Autocommit(self))
        self._raw: psycopg.Connection[Any] | None = None
        self._session: dict[str, str] = {}
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="daena-pg-connection")
        self._listener: psycopg.AsyncConnection[Any] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        self._closed = False

    @property
    def shown(self) -> str:
        """The server's URL without its password."""
        return self._shown

    # -- the connection, on the worker thread ---------------------------------------------

    def _connection(self) -> PgConnection:
        raw = self._raw
        if raw is None or raw.closed or raw.broken:
            self._raw = None
            try:
                raw = psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_SEC,
                    application_name=f"daena pid {os.getpid()}",
                )
            except psycopg.Error as err:
                raise StorageError(
                    f"DAENA_DB_URL: cannot connect to {self.shown}: {_said(err)}"
                ) from err
            raw.row_factory = _rows
            raw.adapters.register_loader("numeric", _NumericLoader)
            raw.adapters.register_dumper(bool, _BoolDumper)
            raw.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
            for name, value in self._session.items():
                raw.execute("SELECT set_config(%s, %s, false)", (name, value))
            self._raw = raw
        return PgConnection(raw)

    def _drop(self) -> None:
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
        self._raw = None

    async def _call(self, fn: Callable[[PgConnection], T]) -> T:
        """`fn(connection)` on the worker thread (inside whatever transaction is open)."""

        def body() -> T:
            conn = self._connection()
            try:
                return fn(conn)
            except psycopg.Error as err:
                if _lost(err):
                    self._drop()
                raise StorageError(f"database {self.shown}: {_said(err)}") from err

        return await asyncio.get_running_loop().run_in_executor(self._thread, body)

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls, url: str, key_base: Path, bus: EventBus, *, read_only: bool = False
    ) -> PostgresDatabase:
        """Connect (and migrate); `read_only` (the observer): every transaction of the
        session is READ ONLY, so the server refuses any write, and nothing is migrated."""
        if read_only:
            db = cls(url, key_base, bus)
            db._session["default_transaction_read_only"] = "on"  # kept across reconnects
            try:
                check_current(db.shown, await db._schema_version())
            except BaseException:
                await db.close()
                raise
            return db
        try:  # the audit head's key lives beside DAENA_DB_PATH on this host
            key_base.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageError(f"DAENA_DB_PATH: cannot create {key_base.parent}: {err}") from err
        db = cls(url, key_base, bus)
        try:
            await db._migrate()
        except BaseException:
            await db.close()
            raise
        return db

    async def _migrate(self) -> None:
        def current(conn: PgConnection) -> bool:
            """Up to date already: nothing to create (a role with data rights only, as
            docs/deployment.md sets up, may not even try)."""
            row = conn.raw.execute("SELECT to_regclass('daena_schema') IS NOT NULL").fetchone()
            if not (row and row[0]):
                return False
            found = conn.raw.execute("SELECT version FROM daena_schema").fetchone()
            return found is not None and int(found[0]) == len(MIGRATIONS)

        def migrate(conn: PgConnection) -> None:
            if current(conn):
                return
            raw = conn.raw
            raw.execute("BEGIN")
            try:
                # One process migrates; the others wait here, then find it done.
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
                raw.execute(
                    "CREATE TABLE IF NOT EXISTS daena_schema ("
                    "id BIGINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)"
                )
                raw.execute("INSERT INTO daena_schema VALUES (1, 0) ON CONFLICT DO NOTHING")
                row = raw.execute("SELECT version FROM daena_schema").fetchone()
                version = int(row[0]) if row else 0
                if version > len(MIGRATIONS):
                    raise StorageError(
                        f"DAENA_DB_URL: database {self.shown} was created by a newer Daena "
                        f"(schema {version}, this version knows {len(MIGRATIONS)})"
                    )
                for number in range(version + 1, len(MIGRATIONS) + 1):
                    try:
                        script = postgres_migration(number)
                    except ValueError as err:
                        raise StorageError(f"DAENA_DB_URL: {err}") from err
                    raw.execute(script.encode())
                    raw.execute("UPDATE daena_schema SET version = %s", (number,))
                raw.execute("COMMIT")
            except BaseException:
                if not raw.closed:
                    with contextlib.suppress(psycopg.Error):
                        raw.execute("ROLLBACK")
                raise

        await self._call(migrate)

    async def user_version(self) -> int:
        row = await self.fetchone("SELECT version FROM daena_schema")
        return int(row[0]) if row else 0

    async def _schema_version(self) -> int:
        """The schema version, 0 when the database was never migrated."""
        row = await self.fetchone("SELECT to_regclass('daena_schema') IS NOT NULL")
        return await self.user_version() if row and row[0] else 0

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._listen_task is not None:
            self._listen_task.cancel()
            with contextlib.suppress(BaseException):
                await self._listen_task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._drop)
        await asyncio.to_thread(self._thread.shutdown, True)

    # -- what SQLite's Database does with files has no PostgreSQL counterpart -------------

    def check_files(self) -> None:
        return None

    def lost_records(self) -> str | None:
        return None

    async def integrity_problems(self, *, full: bool = False) -> list[str]:
        """The server keeps its own pages; what the engine can check is that it answers."""
        try:
            await self.fetchone("SELECT 1")
        except StorageError as err:
            return [err.message]
        return []

    async def set_session(self, values: dict[str, str]) -> None:
        """Connection settings kept for good: set now and again after every reconnect."""
        self._session.update(values)

        def apply(conn: PgConnection) -> None:
            for name, value in values.items():
                conn.raw.execute("SELECT set_config(%s, %s, false)", (name, value))

        await self._call(apply)

    async def execute_local(self, sql: str) -> None:
        raise StorageError(f"database {self.shown}: a connection-local statement is SQLite's")

    # -- writes -----------------------------------------------------------------------------

    def _begin(self, conn: PgConnection) -> None:
        conn.raw.execute("BEGIN")
        conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))

    @staticmethod
    def _finish(conn: PgConnection, events: list[Event]) -> None:
        if events:
            conn.raw.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        conn.raw.execute("COMMIT")

    @staticmethod
    def _rollback(conn: PgConnection) -> None:
        if not conn.raw.closed and conn.in_transaction:
            with contextlib.suppress(psycopg.Error):
                conn.raw.execute("ROLLBACK")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One write transaction holding the write lock; events published after commit."""
        async with self._lock:
            for attempt in range(2):  # a connection found dead at BEGIN: reconnect once
                try:
                    await self._call(self._begin)
                    break
                except StorageError as err:
                    if attempt or not isinstance(err.__cause__, psycopg.OperationalError):
                        raise StorageError(f"cannot start a write on {self.shown}: {err}") from err
            tx = PgTransaction(self)
            try:
                yield tx
                await self._call(lambda conn: self._finish(conn, tx.events))
            except BaseException:
                with contextlib.suppress(BaseException):
                    await asyncio.get_running_loop().run_in_executor(
                        self._thread, self._rollback_if_connected
                    )
                raise
        for event in tx.events:
            self.bus.publish(event)

    def _rollback_if_connected(self) -> None:
        if self._raw is not None and not self._raw.closed:
            self._rollback(PgConnection(self._raw))

    async def write(self, fn: Callable[[SyncTransaction], T]) -> T:
        """A whole write transaction in one hand-off, retried when the server asks for it
        (serialisation failure, deadlock) or the connection was lost before COMMIT."""

        def body() -> tuple[T, list[Event]]:
            for attempt in range(RETRIES):
                events: list[Event] = []
                conn = self._connection()
                committing = False
                try:
                    self._begin(conn)
                    result = fn(SyncTransaction(cast(Any, conn), self.origin, events))
                    committing = True
                    self._finish(conn, events)
                    return result, events
                except psycopg.Error as err:
                    last = attempt == RETRIES - 1
                    if _lost(err):
                        self._drop()
                        if committing:
                            raise StorageError(
                                f"the connection to {self.shown} was lost while a write was "
                                f"committing: whether it was saved is unknown ({_said(err)})"
                            ) from err
                    else:
                        self._rollback(conn)
                    retry = _lost(err) or isinstance(err, psycopg.errors.TransactionRollback)
                    if last or not retry:
                        raise StorageError(f"write to {self.shown} failed: {_said(err)}") from err
                except BaseException:
                    self._rollback(conn)
                    raise
            raise AssertionError("unreachable")

        async with self._lock:
            result, events = await asyncio.get_running_loop().run_in_executor(self._thread, body)
        for event in events:
            self.bus.publish(event)
        return result

    # -- reads ------------------------------------------------------------------------------

    async def read(self, fn: Callable[[Any], T]) -> T:
        """Several queries in one hand-off; a connection lost outside a transaction is
        reconnected and the read tried once more."""
        for attempt in range(2):
            try:
                return await self._call(fn)
            except StorageError as err:
                cause = err.__cause__
                if attempt or not (cause is not None and _lost(cause)) or self._lock.locked():
                    raise StorageError(f"read from {self.shown} failed: {err}") from err
        raise AssertionError("unreachable")

    async def _read(self, sql: str, params: Params, *, one: bool) -> list[Any]:
        def query(conn: PgConnection) -> list[Row]:
            cursor = conn.execute(sql, params)
            if one:
                row = cursor.fetchone()
                return [row] if row is not None else []
            return cursor.fetchall()

        return await self.read(query)

    async def read_committed(self, fn: Callable[[Any], T]) -> T:
        """`read`, on the one connection as before: a second one here would be a second
        server backend per process, not measured to pay (engine/storage/reader.py is
        SQLite's)."""
        return await self.read(fn)

    async def fetchone_committed(self, sql: str, params: Params = ()) -> Any:
        return await self.fetchone(sql, params)

    # -- live updates -------------------------------------------------------------------------

    async def wait_for_events(self, poll_sec: float) -> None:
        """Until another process stores events (a notification) or LISTEN_SAFETY_SEC pass;
        `poll_sec` (the SQLite poll interval) bounds the wait only while not listening."""
        if self._listen_task is None or self._listen_task.done():
            self._listen_task = asyncio.create_task(self._listen(), name="daena-pg-listen")
        if self._listener is None:
            await asyncio.sleep(poll_sec)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), LISTEN_SAFETY_SEC)
        self._woken.clear()

    async def _listen(self) -> None:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SEC
            )
        except psycopg.Error:
            return  # polling until the next try (wait_for_events starts one each time)
        self._listener = conn
        try:
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self._woken.set()  # anything stored before LISTEN is read once more
            async for _ in conn.notifies():
                self._woken.set()
        except psycopg.Error:
            pass
        finally:
            self._listener = None
            self._woken.set()
            with contextlib.suppress(Exception):
                await conn.close()

    # -- sizes, for `daena db info` -------------------------------------------------------------

    async def table_sizes(self) -> dict[str, int]:
        rows = await self.fetchall(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.relname"
        )
        return {str(r[0]): int(r[1]) for r in rows}


def _said(err: BaseException) -> str:
    """The server's or libpq's message, one line, any password in it hidden."""
    text = " ".join(str(err).split()) or type(err).__name__
    return redact_text(text)
