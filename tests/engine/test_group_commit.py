"""Group commit (engine/storage/group_commit.py): writes that queue up while the connection
is busy share one transaction, and each caller still gets exactly its own outcome.

Real SQLite files; the commits are counted with SQLite's own statement trace."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine import Engine, Settings, StorageError
from engine.audit import AuditEntry
from engine.events import AuditAppended, EventBus
from engine.storage.database import Database, SyncTransaction, run_on_connection_thread


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "g.db", EventBus())
    await database.write(lambda stx: stx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    try:
        yield database
    finally:
        await database.close()


async def traced(db: Database) -> list[str]:
    """Every statement the connection runs from now on (SQLite's trace callback)."""
    seen: list[str] = []
    await run_on_connection_thread(db._conn, lambda raw: raw.set_trace_callback(seen.append))
    return seen


def insert(value: str, *, fail: bool = False, event: bool = False) -> object:
    def fn(stx: SyncTransaction) -> int:
        cursor = stx.execute("INSERT INTO t (v) VALUES (?)", (value,))
        if event:
            stx.emit(AuditAppended(int(cursor.lastrowid or 0), "test", value, "ok"))
        if fail:
            raise ValueError(f"{value}: refused after its insert")
        return int(cursor.lastrowid or 0)

    return fn


async def values(db: Database) -> list[str]:
    return [str(r[0]) for r in await db.fetchall("SELECT v FROM t ORDER BY id")]


async def test_writes_waiting_together_share_one_commit(db: Database) -> None:
    seen = await traced(db)
    ids = await asyncio.gather(*(db.write(insert(f"v{i}")) for i in range(20)))  # type: ignore[arg-type]
    assert await values(db) == [f"v{i}" for i in range(20)]  # arrival order
    assert sorted(ids) == ids and len(set(ids)) == 20
    commits = [s for s in seen if s.strip().upper() == "COMMIT"]
    assert len(commits) == 2, seen  # the first alone (the connection was idle), then the rest


async def test_a_lone_write_is_its_own_transaction_without_savepoints(db: Database) -> None:
    seen = await traced(db)
    await db.write(insert("alone"))  # type: ignore[arg-type]
    assert not [s for s in seen if "SAVEPOINT" in s.upper()], seen


async def test_a_failing_write_is_rolled_back_alone_and_its_caller_gets_its_error(
    db: Database,
) -> None:
    bus_events: list[object] = []
    with db.bus.subscription() as queue:
        results = await asyncio.gather(
            db.write(insert("first", event=True)),  # type: ignore[arg-type]
            db.write(insert("a", event=True)),  # type: ignore[arg-type]
            db.write(insert("bad", fail=True, event=True)),  # type: ignore[arg-type]
            db.write(insert("b", event=True)),  # type: ignore[arg-type]
            return_exceptions=True,
        )
        while not queue.empty():
            bus_events.append(queue.get_nowait())
    assert isinstance(results[2], ValueError) and "bad: refused" in str(results[2])
    assert all(isinstance(r, int) for i, r in enumerate(results) if i != 2), results
    assert await values(db) == ["first", "a", "b"]
    stored = [str(r[0]) for r in await db.fetchall("SELECT payload FROM events ORDER BY id")]
    assert not [p for p in stored if '"bad"' in p], stored  # its event rolled back with it
    published = [e.tool for e in bus_events if isinstance(e, AuditAppended)]
    assert published == ["first", "a", "b"]


async def test_an_error_that_ends_the_transaction_fails_the_whole_batch(db: Database) -> None:
    def ends_it(stx: SyncTransaction) -> None:
        stx.execute("INSERT INTO t (v) VALUES ('doomed')")
        stx.conn.execute("ROLLBACK")  # as SQLite does on a full disk or an I/O error
        raise sqlite3.OperationalError("disk I/O error")

    first = asyncio.create_task(db.write(insert("alone")))  # type: ignore[arg-type]
    await asyncio.sleep(0)  # it holds the connection: the three below queue up together
    batch = [db.write(insert("x")), db.write(ends_it), db.write(insert("y"))]  # type: ignore[arg-type]
    results = await asyncio.gather(*batch, return_exceptions=True)
    await first
    assert all(isinstance(r, StorageError) for r in results), results
    assert "disk I/O error" in str(results[1])
    assert await values(db) == ["alone"]  # nothing of the failed batch was kept
    await db.write(insert("after"))  # type: ignore[arg-type]
    assert await values(db) == ["alone", "after"]


async def test_a_write_cancelled_while_queued_never_runs(db: Database) -> None:
    first = asyncio.create_task(db.write(insert("first")))  # type: ignore[arg-type]
    await asyncio.sleep(0)  # it holds the connection now
    queued = asyncio.create_task(db.write(insert("cancelled")))  # type: ignore[arg-type]
    kept = asyncio.create_task(db.write(insert("kept")))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    queued.cancel()
    await first
    await kept
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await values(db) == ["first", "kept"]


@pytest.mark.no_postgres  # the SQLite connection's group commit
async def test_concurrent_audited_runs_keep_one_chain(settings: Settings) -> None:
    async with Engine.open(settings) as eng:
        results = await asyncio.gather(
            *(eng.run("git_status", dry_run=True) for _ in range(50)),
            *(eng.record(AuditEntry(actor="t", action="note", status="ok")) for _ in range(50)),
        )
        assert len({r if isinstance(r, int) else r.audit_id for r in results}) == 100
        report = await eng.audit.verify()
        assert report.ok, report
