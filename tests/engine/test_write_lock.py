"""`engine.storage.write_lock.begin_immediate`: SQLite's write lock taken with short retries
instead of SQLite's sleeping busy handler, on real files with two real connections."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from engine.storage.write_lock import begin_immediate


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


@pytest.fixture
def two(tmp_path: Path) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    path = tmp_path / "w.db"
    first = connect(path)
    first.execute("CREATE TABLE t (v TEXT)")
    return first, connect(path)


def test_it_waits_for_the_other_writer_then_holds_the_lock(
    two: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    holder, waiter = two
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES ('first')")
    started = threading.Event()
    done: list[str] = []

    def take() -> None:
        started.set()
        begin_immediate(waiter, 30_000)
        waiter.execute("INSERT INTO t VALUES ('second')")
        waiter.execute("COMMIT")
        done.append("ok")

    thread = threading.Thread(target=take)
    thread.start()
    started.wait(10)
    assert not done  # still waiting: the holder has not committed
    holder.execute("COMMIT")
    thread.join(30)
    assert done == ["ok"]
    assert [r[0] for r in holder.execute("SELECT v FROM t")] == ["first", "second"]
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_it_gives_up_as_busy_after_its_timeout(
    two: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    holder, waiter = two
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as raised:
        begin_immediate(waiter, 50)
    assert raised.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert not waiter.in_transaction
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 50
    holder.execute("ROLLBACK")


def test_another_error_is_raised_at_once(
    two: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    _, conn = two
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
        begin_immediate(conn, 30_000)
    conn.execute("ROLLBACK")
