"""Incremental audit verify (engine/audit_verify.py): new records only, from a sealed
checkpoint, and still catching a change to an old record as well as to a new one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import AuditEntry, Engine, Settings
from engine.audit import _hashed_fields, record_hash
from engine.audit_verify import VerifyReport, _encode_fields
from engine.storage.database import dumps
from tests.support.raw_db import raw_db


async def add(eng: Engine, count: int, tag: str = "r") -> None:
    for i in range(count):
        await eng.record(AuditEntry(actor="op", action="note", status="ok", error=f"{tag}{i}"))


@pytest.fixture
def conn(eng: Engine, settings: Settings) -> Iterator[Any]:
    """The engine's database opened beside it, as a forger would (either backend)."""
    with raw_db(settings) as raw:
        yield raw


def rechain(conn: Any, from_id: int, through: int | None = None) -> None:
    """What a forger does after editing a record: recompute every hash from it on, so each
    record links and hashes correctly again (without the key, the head cannot follow)."""
    cols = (
        "id, ts, actor, action, tool, args, status, error, duration_ms, result_summary, "
        "trace_id, task_id, approval_id, prev_hash"
    )
    prev = conn.execute("SELECT hash FROM audit WHERE id = ?", (from_id - 1,)).fetchone()[0]
    top = through or conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
    rows = conn.execute(
        f"SELECT {cols} FROM audit WHERE id >= ? AND id <= ? ORDER BY id", (from_id, top)
    ).fetchall()
    for row in rows:
        values = dict(zip(cols.split(", ")[2:13], row[2:13], strict=True))
        digest = record_hash(prev, _hashed_fields(row[0], row[1], values))
        conn.execute(
            "UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", (prev, digest, row[0])
        )
        prev = digest


async def checkpointed(eng: Engine, old: int = 40) -> VerifyReport:
    await add(eng, old, "old")
    first = await eng.audit.verify()
    assert first.ok and first.extra["mode"] == "full"
    return first


async def test_incremental_checks_only_the_new_records(eng: Engine) -> None:
    await checkpointed(eng)
    await add(eng, 7, "new")
    report = await eng.audit.verify(incremental=True, slice_size=0)
    assert report.ok, report.problem
    assert report.extra["mode"] == "incremental" and report.extra["new"] == 7
    assert report.checked == 7
    again = await eng.audit.verify(incremental=True, slice_size=0)
    assert again.ok and again.extra["new"] == 0  # the checkpoint moved forward


async def test_without_a_checkpoint_incremental_is_a_full_verify(eng: Engine) -> None:
    await add(eng, 5)
    report = await eng.audit.verify(incremental=True)
    assert report.ok and report.extra["mode"] == "full"
    assert report.extra["why_full"] == "no checkpoint yet"
    assert report.checked == await eng.audit.count()


async def test_a_change_in_a_new_record_is_found(eng: Engine, conn: Any) -> None:
    await checkpointed(eng)
    await add(eng, 5, "new")
    newest = await eng.audit.last_id()
    conn.execute("UPDATE audit SET error = 'forged' WHERE id = ?", (newest - 2,))
    report = await eng.audit.verify(incremental=True, slice_size=0)
    assert not report.ok and report.first_broken_id == newest - 2
    assert "modified" in (report.problem or "")


async def test_a_re_linked_change_in_an_old_record_is_found(eng: Engine, conn: Any) -> None:
    await checkpointed(eng)
    await add(eng, 5, "new")
    conn.execute("UPDATE audit SET error = 'forged' WHERE id = 10")
    rechain(conn, 10)  # every record links and hashes again, old and new alike
    report = await eng.audit.verify(incremental=True, slice_size=0)  # no slice reaches it
    assert not report.ok
    assert report.extra["why_full"] == "the chain at the checkpoint changed"


async def test_a_change_in_an_old_record_re_linked_only_up_to_the_checkpoint_is_found(
    eng: Engine, conn: Any
) -> None:
    first = await checkpointed(eng)
    checkpoint_id = conn.execute("SELECT last_id FROM audit_checkpoint").fetchone()[0]
    await add(eng, 3, "new")
    conn.execute("UPDATE audit SET error = 'forged' WHERE id = 12")
    rechain(conn, 12, through=checkpoint_id)  # hides it up to the checkpoint record
    report = await eng.audit.verify(incremental=True, slice_size=0)
    assert not report.ok and first.ok
    assert report.first_broken_id == checkpoint_id + 1  # the full verify it falls back to


async def test_an_old_record_edited_in_place_is_found_by_the_rotating_slice(
    eng: Engine, conn: Any
) -> None:
    await checkpointed(eng, old=40)
    conn.execute("UPDATE audit SET error = 'forged' WHERE id = 33")
    found = None
    for _ in range(10):  # 10 old records per verify: a full round in a few verifies
        report = await eng.audit.verify(incremental=True, slice_size=10)
        if not report.ok:
            found = report
            break
    assert found is not None and found.first_broken_id == 33
    assert "modified" in (found.problem or "")
    # With the default slice, the next verify re-checks every old record of a small log.
    full = await eng.audit.verify(incremental=True)
    assert not full.ok and full.first_broken_id == 33


async def test_the_slice_goes_round_the_old_records(eng: Engine, conn: Any) -> None:
    await checkpointed(eng, old=25)
    first_id = conn.execute("SELECT MIN(id) FROM audit").fetchone()[0]
    seen = []
    for _ in range(6):
        report = await eng.audit.verify(incremental=True, slice_size=10)
        assert report.ok, report.problem
        seen.append(tuple(report.extra["older"]))
    starts = [s[0] for s in seen]
    assert starts[0] == first_id and starts.count(first_id) >= 2  # it wrapped round


async def test_a_checkpoint_edited_without_the_key_is_reported(eng: Engine, conn: Any) -> None:
    await checkpointed(eng)
    await add(eng, 5, "new")
    newest = conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
    conn.execute("UPDATE audit SET error = 'forged' WHERE id = ?", (newest,))
    # Move the checkpoint past the edited record so verify would skip it: the seal breaks.
    conn.execute(
        "UPDATE audit_checkpoint SET last_id = ?, "
        "last_hash = (SELECT hash FROM audit WHERE id = ?)",
        (newest, newest),
    )
    report = await eng.audit.verify(incremental=True)
    assert not report.ok and "checkpoint does not verify" in (report.problem or "")
    full = await eng.audit.verify()
    assert not full.ok and full.first_broken_id == newest


async def test_a_deleted_checkpoint_means_a_full_verify(eng: Engine, conn: Any) -> None:
    await checkpointed(eng)
    conn.execute("DELETE FROM audit_checkpoint")
    report = await eng.audit.verify(incremental=True)
    assert report.ok and report.extra["mode"] == "full"


async def test_deleted_newest_records_are_found(eng: Engine, conn: Any) -> None:
    await checkpointed(eng)
    newest = conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
    conn.execute("DELETE FROM audit WHERE id > ?", (newest - 3,))
    report = await eng.audit.verify(incremental=True)
    assert not report.ok and report.first_broken_id == newest - 2


async def test_a_prune_makes_the_next_verify_full_and_it_passes(eng: Engine) -> None:
    await checkpointed(eng)
    await eng.audit.prune(time.time() + 60, "op")
    report = await eng.audit.verify(incremental=True)
    assert report.ok, report.problem
    assert report.extra["why_full"] == "older records were pruned since the checkpoint"


async def test_progress_is_reported_up_to_the_total(eng: Engine) -> None:
    await add(eng, 30)
    calls: list[tuple[int, int]] = []
    report = await eng.audit.verify(progress=lambda done, total: calls.append((done, total)))
    assert report.ok and calls
    done, total = calls[-1]
    assert done == total == report.checked


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
)


@given(st.lists(scalars, max_size=15).map(tuple))
def test_the_fast_encoder_writes_what_dumps_writes(fields: tuple[object, ...]) -> None:
    assert _encode_fields(fields) == dumps(list(fields))
