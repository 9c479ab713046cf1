"""The committed reader (engine/storage/reader.py): point reads on a connection of their own,
so a per-request check never waits behind this process's writes, and never reads another
file or writes anything. Real SQLite files; the token check through a real engine."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine import Engine, Settings, StorageError
from engine.credentials import CredentialError
from engine.events import EventBus
from engine.storage.database import Database, SyncTransaction

SELECT = "SELECT v FROM t WHERE id = 1"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "r.db", EventBus())

    def setup(stx: SyncTransaction) -> None:
        stx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        stx.execute("INSERT INTO t (id, v) VALUES (1, 'first')")

    await database.write(setup)
    try:
        yield database
    finally:
        await database.close()


async def value(db: Database) -> str | None:
    row = await db.fetchone_committed(SELECT)
    return None if row is None else str(row["v"])


async def test_it_reads_what_is_committed(db: Database) -> None:
    assert await value(db) == "first"
    await db.write(lambda stx: stx.execute("UPDATE t SET v = 'second' WHERE id = 1"))
    assert await value(db) == "second"  # a write is seen once its await returned


async def test_it_does_not_wait_behind_a_write_in_progress(db: Database) -> None:
    """A write holding the connection's thread (as a batch does during its fsync) does not
    hold the read: it answers with the last committed state while the write goes on."""
    inside, release = threading.Event(), threading.Event()

    def slow(stx: SyncTransaction) -> None:
        stx.execute("UPDATE t SET v = 'uncommitted' WHERE id = 1")
        inside.set()
        release.wait(30)

    writing = asyncio.create_task(db.write(slow))
    try:
        assert await asyncio.to_thread(inside.wait, 30)
        # On the writer's own connection this read would queue behind `slow`, which waits
        # for `release`: it would never answer, and wait_for would raise.
        assert await asyncio.wait_for(value(db), 30) == "first"
        assert not writing.done()
    finally:
        release.set()
        await writing
    assert await value(db) == "uncommitted"


async def test_it_cannot_write(db: Database) -> None:
    with pytest.raises(StorageError, match="read from"):
        await db.fetchone_committed("INSERT INTO t (id, v) VALUES (2, 'x') RETURNING id")
    assert tuple(await db.fetchone("SELECT COUNT(*) FROM t") or ()) == (1,)


async def test_it_refuses_a_file_swapped_in_at_the_path(db: Database, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(db.path) as src, sqlite3.connect(other) as copy:
        src.backup(copy)
        copy.execute("UPDATE t SET v = 'from the other file'")
    db.path.rename(tmp_path / "moved.db")
    other.rename(db.path)
    with pytest.raises(StorageError, match="no longer the one this process opened"):
        await db.fetchone_committed(SELECT)


def connection_threads() -> int:
    return sum("_connection_worker_thread" in t.name for t in threading.enumerate())


async def test_closing_the_database_stops_its_thread(tmp_path: Path) -> None:
    before = connection_threads()
    database = await Database.open(tmp_path / "c.db", EventBus())
    await database.fetchone_committed("SELECT 1")
    assert connection_threads() == before + 2  # the writer's and the reader's
    await database.close()
    for _ in range(100):  # aiosqlite's threads end just after close returns
        if connection_threads() == before:
            break
        await asyncio.sleep(0.05)
    assert connection_threads() == before


async def test_an_in_memory_database_reads_on_its_own_connection() -> None:
    database = await Database.open(Path(":memory:"), EventBus())
    try:
        await database.write(lambda stx: stx.execute("CREATE TABLE t (id INTEGER, v TEXT)"))
        await database.write(lambda stx: stx.execute("INSERT INTO t VALUES (1, 'here')"))
        assert await value(database) == "here"  # a second connection would see no table
    finally:
        await database.close()


async def test_a_revoked_token_is_refused_on_the_next_check(eng: Engine) -> None:
    _, token = await eng.credentials.mint("reader", operator="op@test", expires_at=None)
    assert (await eng.credentials.verify(token)).identity == "agent:reader"
    await eng.credentials.revoke("reader", operator="op@test")
    with pytest.raises(CredentialError, match="revoked"):
        await eng.credentials.verify(token)


async def test_it_refuses_a_wal_swapped_in_at_the_path(db: Database, tmp_path: Path) -> None:
    """Red team: SQLite opens the `-wal` by path when a connection first reads, and readers
    trust the shared wal-index, so a reader opened on a `-wal` replaced since the engine
    opened it read pages the engine never wrote (a credential or a policy it does not hold)."""
    await db.execute_local("PRAGMA wal_autocheckpoint = 0")  # the row stays in the -wal
    await db.write(lambda stx: stx.execute("UPDATE t SET v = 'genuine-value' WHERE id = 1"))
    wal = Path(f"{db.path}-wal")
    forged = wal.read_bytes().replace(b"genuine-value", b"FORGED-value!")
    assert b"FORGED-value!" in forged
    (tmp_path / "forged").write_bytes(forged)
    (tmp_path / "forged").replace(wal)
    assert await db.fetchone("SELECT v FROM t WHERE id = 1") is not None  # the writer's own
    with pytest.raises(StorageError, match="no longer the one this process opened"):
        await value(db)


async def test_it_sees_each_new_commit_after_opening(db: Database) -> None:
    """Opening leaves no read transaction open (a snapshot kept would hide later commits,
    a revocation among them)."""
    assert await value(db) == "first"
    for i in range(3):
        await db.write(lambda stx, i=i: stx.execute(f"UPDATE t SET v = 'v{i}' WHERE id = 1"))
        assert await value(db) == f"v{i}"


async def test_a_read_racing_the_close_leaves_no_thread(tmp_path: Path) -> None:
    """Red team: a token check in flight while the engine closes (`daena serve` stopping
    under an agent's requests) opened the reader after the close: its thread (not a daemon)
    and file handles outlived the database, and the process never exited."""
    before = connection_threads()
    for _ in range(3):
        database = await Database.open(tmp_path / "race.db", EventBus())
        reading = asyncio.create_task(database.fetchone_committed("SELECT 1"))
        await asyncio.sleep(0)  # the read is opening the reader
        await database.close()
        with contextlib.suppress(StorageError):
            await reading  # answered before the close, or refused: either, but no thread
        with pytest.raises(StorageError, match="closed"):
            await database.fetchone_committed("SELECT 1")  # nothing opens after the close
    for _ in range(100):  # aiosqlite's threads end just after close returns
        if connection_threads() == before:
            break
        await asyncio.sleep(0.05)
    assert connection_threads() == before


async def test_a_token_revoked_by_another_process_is_refused_on_the_next_check(
    eng: Engine, settings: Settings
) -> None:
    """The revocation commits on another connection (`daena agents token revoke`) while
    this engine's reader is already open and has checked the token: the next check, here,
    refuses it; so does one during a write of this engine's in progress (SQLite)."""
    _, token = await eng.credentials.mint("other", operator="op@test", expires_at=None)
    assert (await eng.credentials.verify(token)).identity == "agent:other"  # reader open
    async with Engine.open(settings) as cli:
        await cli.credentials.revoke("other", operator="op@test")
    with pytest.raises(CredentialError, match="revoked"):
        await eng.credentials.verify(token)
    if eng.db.dialect != "sqlite":
        return  # PostgreSQL reads on the engine's one connection, after the write
    inside, release = threading.Event(), threading.Event()

    def slow(stx: SyncTransaction) -> None:
        inside.set()
        release.wait(30)

    writing = asyncio.create_task(eng.db.write(slow))
    try:
        assert await asyncio.to_thread(inside.wait, 30)
        with pytest.raises(CredentialError, match="revoked"):
            await asyncio.wait_for(eng.credentials.verify(token), 30)
    finally:
        release.set()
        await writing
