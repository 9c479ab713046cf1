"""The events feed's change watcher (engine/watch.py): another connection's commit wakes it,
nothing else does, and the engine's feed carries another process's events through it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import engine
from engine.watch import InotifyWatcher, StatWatcher, watch_database


def make_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.commit()
    conn.close()


def commit_elsewhere(path: Path) -> None:
    """A commit on another connection (what another process does)."""
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()


@pytest.fixture(params=["inotify", "stat"])
def watcher_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "inotify" and not isinstance(
        watch_database(Path("/tmp/x"), 0.05), InotifyWatcher
    ):
        pytest.skip("no inotify on this system")
    return str(request.param)


def make_watcher(kind: str, db: Path) -> InotifyWatcher | StatWatcher:
    return InotifyWatcher(db) if kind == "inotify" else StatWatcher(db, 0.02)


async def test_a_commit_elsewhere_wakes_the_watcher(tmp_path: Path, watcher_kind: str) -> None:
    db = tmp_path / "feed.db"
    make_db(db)
    watcher = make_watcher(watcher_kind, db)
    try:
        waiting = asyncio.create_task(watcher.wait_for_change(60))
        await asyncio.sleep(0)  # the watcher is waiting before the commit
        await asyncio.to_thread(commit_elsewhere, db)
        assert await asyncio.wait_for(waiting, 60) is True
    finally:
        watcher.close()


async def test_nothing_changing_wakes_nothing(tmp_path: Path, watcher_kind: str) -> None:
    db = tmp_path / "feed.db"
    make_db(db)
    (tmp_path / "other.txt").write_text("x")
    watcher = make_watcher(watcher_kind, db)
    try:
        (tmp_path / "other.txt").write_text("another file in the same directory")
        # Only the database's files count; the timeout is what ends the wait.
        results = [await watcher.wait_for_change(0.3)]
        while results[-1]:  # an inotify watcher's rechecks after a change, if any, end
            results.append(await watcher.wait_for_change(0.3))
        assert results == [False]
    finally:
        watcher.close()


async def test_a_change_made_while_the_reader_was_busy_is_not_lost(tmp_path: Path) -> None:
    db = tmp_path / "feed.db"
    make_db(db)
    watcher = watch_database(db, 0.02)
    try:
        await asyncio.to_thread(commit_elsewhere, db)  # nobody waiting at this moment
        assert await watcher.wait_for_change(60) is True
    finally:
        watcher.close()


async def test_the_feed_carries_another_engines_events(settings: engine.Settings) -> None:
    async with engine.Engine.open(settings, watch=True) as console:
        with console.bus.subscription() as queue:
            async with engine.Engine.open(settings) as agent:
                for i in range(3):
                    audit_id = await agent.record(
                        engine.AuditEntry(actor="agent", action="note", status="ok", error=str(i))
                    )
                    while True:
                        event = await asyncio.wait_for(queue.get(), 60)
                        if isinstance(event, engine.AuditAppended) and event.audit_id == audit_id:
                            break
