"""Start-up sweeps (engine/sweeps.py): batched, in the background, each expiry audited once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from engine import ApprovalError, Engine, RunRequest, Settings
from engine.sweeps import Sweeper, prune_events_batch
from tests.support.raw_db import raw_db

WRITE = {"path": "out.txt", "content": "x\n"}
DAY = 24 * 3600.0


async def make_expired(eng: Engine, count: int) -> list[str]:
    """`count` pending requests, then moved past their expiry behind the engine's back."""
    await eng.set_tool_enabled("filesystem_write", True)
    ids = []
    for i in range(count):
        request = await eng.request_approval(
            RunRequest(tool="filesystem_write", args={**WRITE, "path": f"f{i}.txt"})
        )
        ids.append(request.id)
    with raw_db(eng.settings) as conn:
        conn.execute(
            "UPDATE approval_requests SET expires_at = ?, boot_id = NULL", (time.time() - 60,)
        )
    return ids


def add_events(conn: Any, count: int, age_sec: float) -> None:
    ts = time.time() - age_sec
    conn.executemany(
        "INSERT INTO events (ts, origin, kind, payload) VALUES (?, 'elsewhere', 'X', '{}')",
        [(ts + i * 1e-3,) for i in range(count)],
    )


def expiry_records(conn: Any) -> dict[str, int]:
    rows = conn.execute(
        "SELECT approval_id, COUNT(*) FROM audit WHERE action = 'approval_expired' "
        "GROUP BY approval_id"
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


async def test_a_batch_leaves_the_rest_and_the_next_batches_finish_it(
    eng: Engine, settings: Settings
) -> None:
    with raw_db(settings) as conn:
        add_events(conn, 23, age_sec=8 * DAY)
        add_events(conn, 4, age_sec=60)
        fresh = conn.execute("SELECT COUNT(*) FROM events WHERE ts > ?", (time.time() - DAY,))
        recent = int(fresh.fetchone()[0])
        cutoff = time.time() - 7 * DAY

        def old_events() -> int:
            return int(
                conn.execute("SELECT COUNT(*) FROM events WHERE ts < ?", (cutoff,)).fetchone()[0]
            )

        one = await eng.db.write(lambda stx: prune_events_batch(stx, cutoff, 10))
        assert one == 10
        assert old_events() == 13  # the batch stopped at its bound; the rest waits for the next

        sweeper = Sweeper(eng.db, eng.approvals, event_batch=5)
        assert await sweeper.prune_events() == 13
        assert sweeper.batches == 3  # 5 + 5 + 3
        assert old_events() == 0
        after = conn.execute("SELECT COUNT(*) FROM events WHERE ts > ?", (time.time() - DAY,))
        assert int(after.fetchone()[0]) == recent  # newer events are kept


async def test_expired_requests_are_marked_in_batches_each_audited_once(
    eng: Engine, settings: Settings
) -> None:
    ids = await make_expired(eng, 12)
    sweeper = Sweeper(eng.db, eng.approvals, expiry_batch=5)
    assert await sweeper.expire_requests() == 12
    assert sweeper.batches == 3  # 5 + 5 + 2
    assert await sweeper.expire_requests() == 0  # nothing twice
    assert await eng.approvals.sweep_expired() == 0
    with raw_db(settings) as conn:
        assert expiry_records(conn) == {i: 1 for i in ids}
    statuses = {r.status for r in await eng.approvals.list(None)}
    assert statuses == {"expired"}
    assert (await eng.audit.verify()).ok


async def test_two_processes_sweeping_at_once_mark_each_request_once(
    eng: Engine, settings: Settings
) -> None:
    ids = await make_expired(eng, 30)
    async with Engine.open(settings) as other:
        await asyncio.wait_for(other.sweeper.idle.wait(), 30)
        await asyncio.wait_for(eng.sweeper.idle.wait(), 30)
        # The opens' own sweeps may have raced; run two more at once on top.
        a = Sweeper(eng.db, eng.approvals, expiry_batch=4)
        b = Sweeper(other.db, other.approvals, expiry_batch=4)
        await asyncio.gather(a.expire_requests(), b.expire_requests())
    with raw_db(settings) as conn:
        assert expiry_records(conn) == {i: 1 for i in ids}


async def test_open_does_not_wait_for_the_sweeps(
    eng: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await make_expired(eng, 3)
    with raw_db(settings) as conn:
        add_events(conn, 7, age_sec=8 * DAY)
    gate = asyncio.Event()
    original = Sweeper.run

    async def held(self: Sweeper) -> tuple[int, int]:
        self.idle.clear()
        await gate.wait()
        return await original(self)

    monkeypatch.setattr(Sweeper, "run", held)
    async with Engine.open(settings) as opened:
        # Open has returned while its sweep is still held: nothing was swept by open.
        assert not opened.sweeper.idle.is_set()
        assert {r.status for r in await opened.approvals.list(None)} == {"pending"}
        gate.set()
        await asyncio.wait_for(opened.sweeper.idle.wait(), 30)
        assert {r.status for r in await opened.approvals.list(None)} == {"expired"}
        with raw_db(settings) as conn:
            old = conn.execute("SELECT COUNT(*) FROM events WHERE ts < ?", (time.time() - 7 * DAY,))
            assert old.fetchone()[0] == 0
    with raw_db(settings) as conn:
        assert expiry_records(conn) == {i: 1 for i in ids}


async def test_a_request_found_expired_is_marked_by_whoever_finds_it(
    eng: Engine, settings: Settings, workspace: Path
) -> None:
    (request_id,) = await make_expired(eng, 1)
    with pytest.raises(ApprovalError, match="expired"):
        await eng.approve(request_id, operator="alice")
    assert (await eng.approvals.get(request_id)).status == "expired"
    with pytest.raises(ApprovalError):
        await eng.deny(request_id, "too late", operator="alice")
    with raw_db(settings) as conn:
        assert expiry_records(conn) == {request_id: 1}
    assert not (workspace / "f0.txt").exists()


async def test_a_sweep_with_nothing_to_do_writes_nothing(eng: Engine) -> None:
    await asyncio.wait_for(eng.sweeper.idle.wait(), 30)
    sweeper = Sweeper(eng.db, eng.approvals)
    assert await sweeper.run() == (0, 0)
    assert sweeper.batches == 0  # no write transaction (no commit, no fsync) at all
