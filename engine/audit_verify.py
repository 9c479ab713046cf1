"""Verifying the audit chain: in full, or from the sealed checkpoint (incremental).

A full verify recomputes every record's hash and link, then checks the anchored head
(engine/audit_head.py). It runs on the connection's thread over plain tuples, a chunk per
hand-off, with one prepared JSON encoder: the cost is the hashing itself (benchmarks/
bench_verify.py compares it with a bare loop computing the same hashes).

An incremental verify starts from the checkpoint the last passing verify sealed
(engine/audit_checkpoint.py): it checks the checkpoint's seal, recomputes the checkpoint
record's hash and compares it with the sealed one (a change to any older record that was
re-linked to look intact changes it), checks every newer record in full, re-checks a
rotating slice of older records (`slice_size` per verify, round robin), and checks the
head. docs/security.md (promise 7) says exactly what that does and does not prove.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from engine import audit_checkpoint, audit_head
from engine.audit_checkpoint import Checkpoint
from engine.audit_head import GENESIS, HeadKey
from engine.errors import StorageError
from engine.storage.database import Database

COLUMNS = (
    "id, ts, actor, action, tool, args, status, error, duration_ms, result_summary, "
    "trace_id, task_id, approval_id, prev_hash, hash"
)
"""The audit table's columns in the record's order; the first 13 are what is hashed."""
CHUNK = 20_000
"""Records checked per hand-off to the connection's thread (progress is reported per chunk)."""
SLICE = 2_000
"""Older records an incremental verify re-checks, round robin (a fifth of the work of
10,000 new records)."""

_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
"""The encoder `engine.storage.database.dumps` builds on every call, built once."""


def _fast_encoder() -> Callable[[tuple[Any, ...] | list[Any]], str]:
    """`_encode` for a record's tuple of scalars, straight to the C encoder `json` itself
    uses (a third faster: no per-call setup); `_encode` where that encoder is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _encode

    def refuse(value: object) -> object:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    chunks = make(None, refuse, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    return lambda fields: "".join(chunks(fields, 0))


encode_fields = _fast_encoder()
_encode_fields = encode_fields


def quick_text(fields: tuple[Any, ...]) -> bytes | None:
    """A record's fields as orjson writes them (a seventh of json's cost), or None where that
    text could stand for another record. Equal texts parse to equal values (a float's
    shortest form round-trips, an int never reads as a float); the one value orjson writes
    as another is a non-finite float (as `null`), so a text with more `null`s than the record
    has NULLs is not trusted."""
    try:
        text = orjson.dumps(fields)
    except orjson.JSONEncodeError:  # a BLOB, a lone surrogate, an int past 64 bits
        return None
    return text if text.count(b"null") == fields.count(None) else None


def quick_digest(prev: str, fields: tuple[Any, ...]) -> str | None:
    """The hash a record would have if `dumps` wrote what orjson writes. A verify accepts a
    record when this matches its stored hash and otherwise asks `encode_fields` (exponents
    and escapes can be written differently): the fast path can only confirm, never refuse."""
    text = quick_text(fields)
    return None if text is None else hashlib.sha256(prev.encode() + b"\n" + text).hexdigest()


Progress = Callable[[int, int], None]
"""Called with (records checked so far, records to check in all)."""


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Walk:
    """The state of a walk along the chain: the hash the next record must link to."""

    prev: str
    last_id: int
    checked: int = 0
    broken: tuple[int, str] | None = None


def walk_chunk(conn: sqlite3.Connection, walk: _Walk, until: int | None, limit: int) -> int:
    """Check up to `limit` records after `walk.last_id` (up to `until`), in place; returns
    how many rows were read (0 at the end of the range)."""
    cursor = conn.cursor()
    cursor.row_factory = None
    bound = "" if until is None else " AND id <= ?"
    params = (walk.last_id,) if until is None else (walk.last_id, until)
    cursor.execute(
        f"SELECT {COLUMNS} FROM audit WHERE id > ?{bound} ORDER BY id LIMIT ?", (*params, limit)
    )
    prev, last, checked, read = walk.prev, walk.last_id, walk.checked, 0
    sha256, encode, quick = hashlib.sha256, _encode_fields, quick_digest
    reset = audit_head.RESET_ACTION
    try:
        for row in cursor:
            read += 1
            record_id = row[0]
            if row[13] != prev:
                walk.broken = (
                    record_id,
                    f"record {record_id} does not link to the record before it",
                )
                break
            fields = row[:13]
            if (
                quick(prev, fields) != row[14]
                and sha256((prev + "\n" + encode(fields)).encode()).hexdigest() != row[14]
            ):
                walk.broken = (record_id, f"record {record_id} was modified")
                break
            if row[3] == reset:
                walk.broken = (record_id, f"record {record_id}: {row[7]}")
                break
            prev, last = row[14], record_id
            checked += 1
    finally:
        cursor.close()
    walk.prev, walk.last_id, walk.checked = prev, last, checked
    return read


def _bounds(conn: sqlite3.Connection) -> tuple[int | None, int | None]:
    row = conn.execute("SELECT (SELECT MIN(id) FROM audit), (SELECT MAX(id) FROM audit)").fetchone()
    return (None, None) if row[0] is None else (int(row[0]), int(row[1]))


def _record(conn: sqlite3.Connection, record_id: int) -> tuple[Any, ...] | None:
    cursor = conn.cursor()
    cursor.row_factory = None
    row: tuple[Any, ...] | None = cursor.execute(
        f"SELECT {COLUMNS} FROM audit WHERE id = ?", (record_id,)
    ).fetchone()
    cursor.close()
    return row


def content_hash(row: tuple[Any, ...]) -> str:
    """The hash a record's content and stored link give (compare with its stored hash)."""
    return hashlib.sha256((row[13] + "\n" + _encode(row[:13])).encode()).hexdigest()


def _prune_anchor(conn: sqlite3.Connection, first_id: int) -> str | None:
    """The chain link recorded by the prune that made `first_id` the oldest record."""
    rows = conn.execute(
        "SELECT args FROM audit WHERE action = 'audit_prune' ORDER BY id DESC"
    ).fetchall()
    for row in rows:
        args = json.loads(row[0] or "{}")
        if args.get("first_kept_id") == first_id:
            return str(args.get("anchor_hash"))
    return None


class Verifier:
    """Verifies one database's chain, and keeps its checkpoint."""

    def __init__(self, db: Database, key: HeadKey) -> None:
        self._db = db
        self._key = key

    async def verify(
        self,
        *,
        incremental: bool = False,
        progress: Progress | None = None,
        slice_size: int = SLICE,
    ) -> VerifyReport:
        key = self._key.load()
        first_id, newest_id = await self._db.read(_bounds)
        found = await self._db.read(audit_checkpoint.read)
        tampered = None
        if found is not None and key is not None and not audit_checkpoint.valid(*found, key):
            tampered = "the verify checkpoint does not verify (it was edited without the key)"
        start: Checkpoint | None = None
        why_full = "asked for" if not incremental else None
        if incremental:
            if tampered is not None:
                return VerifyReport(False, 0, None, tampered, {"mode": "incremental"})
            if found is None or key is None:
                why_full = "no checkpoint yet" if key is not None else "no audit key yet"
            elif first_id is None or found[0].first_id != first_id:
                why_full = "older records were pruned since the checkpoint"
            elif newest_id is None or found[0].last_id > newest_id:
                why_full = "records the last verify checked are gone"  # the head says which
            else:
                start = found[0]
        if start is not None:
            report = await self._from_checkpoint(start, key, progress, slice_size, newest_id)
        else:
            report = await self._full(first_id, newest_id, key, progress)
            report.extra["why_full"] = why_full
        if report.ok and tampered is not None:  # the records are sound; say what was found
            report = replace(report, ok=False, problem=tampered + "; a new one was written")
        return report

    async def _full(
        self,
        first_id: int | None,
        newest_id: int | None,
        key: bytes | None,
        progress: Progress | None,
    ) -> VerifyReport:
        extra: dict[str, Any] = {"mode": "full"}
        if first_id is None or newest_id is None:
            return await self._finish(_Walk(GENESIS, 0), key, None, extra, full=True)
        prev = (
            GENESIS if first_id == 1 else await self._db.read(lambda c: _prune_anchor(c, first_id))
        )
        if prev is None:
            return VerifyReport(
                False,
                0,
                first_id,
                f"records before {first_id} are missing (no prune recorded)",
                extra,
            )
        walk = _Walk(prev, first_id - 1)
        await self._walk(walk, None, progress, newest_id - first_id + 1, 0)
        if walk.broken is not None:
            extra["broken"] = "record"
            return VerifyReport(False, walk.checked, *walk.broken, extra)
        return await self._finish(walk, key, None, extra, full=True, first_id=first_id)

    async def _from_checkpoint(
        self,
        start: Checkpoint,
        key: bytes | None,
        progress: Progress | None,
        slice_size: int,
        newest_id: int | None,
    ) -> VerifyReport:
        extra: dict[str, Any] = {"mode": "incremental", "from_id": start.last_id}
        row = await self._db.read(lambda c: _record(c, start.last_id))
        if row is None or row[14] != start.last_hash or content_hash(row) != row[14]:
            # Something up to the checkpoint changed: a full verify names the first record.
            found = await self._full(start.first_id, newest_id, key, progress)
            found.extra.update(extra, why_full="the chain at the checkpoint changed")
            if found.extra.get("broken") != "record":  # no single record names the change
                return replace(
                    found,
                    ok=False,
                    first_broken_id=start.last_id,
                    problem=(
                        f"record {start.last_id} no longer has the hash the last verify "
                        "sealed: a record up to it was changed and the chain re-linked"
                    ),
                )
            return found
        total = (newest_id or start.last_id) - start.last_id
        older_end = min(start.slice_next + slice_size - 1, start.last_id)
        older = max(0, older_end - start.slice_next + 1) if slice_size > 0 else 0
        walk = _Walk(start.last_hash, start.last_id)
        await self._walk(walk, None, progress, total + older, 0)
        extra["new"] = walk.checked
        if walk.broken is not None:
            return VerifyReport(False, walk.checked, *walk.broken, extra)
        next_slice = start.slice_next
        if older:
            old = await self._older_slice(start, older_end, progress, total + older, walk.checked)
            extra["older"] = [start.slice_next, older_end]
            if old.broken is not None:
                return VerifyReport(False, walk.checked + old.checked, *old.broken, extra)
            walk.checked += old.checked
            next_slice = older_end + 1 if older_end < start.last_id else start.first_id
        resumed = replace(start, slice_next=next_slice)
        return await self._finish(walk, key, resumed, extra, full=False, first_id=start.first_id)

    async def _older_slice(
        self, start: Checkpoint, end: int, progress: Progress | None, total: int, done: int
    ) -> _Walk:
        """Re-check records slice_next..end (all older than the checkpoint)."""
        if start.slice_next == start.first_id:
            prev = GENESIS if start.first_id == 1 else None
            if prev is None:
                prev = await self._db.read(lambda c: _prune_anchor(c, start.first_id))
        else:
            before = await self._db.read(lambda c: _record(c, start.slice_next - 1))
            prev = None if before is None else str(before[14])
        walk = _Walk(prev or "", start.slice_next - 1)
        if prev is None:
            walk.broken = (start.slice_next, f"record {start.slice_next - 1} is missing")
            return walk
        await self._walk(walk, end, progress, total, done)
        if walk.broken is None and walk.last_id < end:
            walk.broken = (walk.last_id + 1, f"record {walk.last_id + 1} is missing")
        return walk

    async def _walk(
        self, walk: _Walk, until: int | None, progress: Progress | None, total: int, done: int
    ) -> None:
        base = walk.checked
        while walk.broken is None:
            if not await self._db.read(lambda c: walk_chunk(c, walk, until, CHUNK)):
                return
            if progress is not None:
                progress(done + walk.checked - base, total)

    async def _finish(
        self,
        walk: _Walk,
        key: bytes | None,
        resumed: Checkpoint | None,
        extra: dict[str, Any],
        *,
        full: bool,
        first_id: int | None = None,
    ) -> VerifyReport:
        state = await self._db.read(audit_head.read_state)
        trouble = audit_head.problem(state, key)
        if trouble is not None:
            return VerifyReport(False, walk.checked, _first_unanchored(state), trouble, extra)
        if key is not None and walk.last_id > 0 and first_id is not None:
            now = time.time()
            if resumed is None:
                checkpoint = Checkpoint(walk.last_id, walk.prev, first_id, first_id, now, now)
            else:
                checkpoint = replace(
                    resumed, last_id=walk.last_id, last_hash=walk.prev, checked_at=now
                )
            if full and resumed is None:
                checkpoint = replace(checkpoint, full_pass_at=now)
            await self._store(key, checkpoint)
        return VerifyReport(True, walk.checked, extra=extra)

    async def _store(self, key: bytes, checkpoint: Checkpoint) -> None:
        # A read-only database: the next verify starts from the older checkpoint.
        with contextlib.suppress(StorageError):
            await self._db.write(lambda stx: audit_checkpoint.write(stx.conn, key, checkpoint))


def _first_unanchored(state: audit_head.ChainState) -> int:
    """Where a head problem is: the first record the head does not vouch for."""
    head = state.head
    if head is not None and head.last_id < state.newest_id:
        return head.last_id + 1  # records added behind the log
    if head is not None and head.last_id == state.newest_id and head.mac is not None:
        return head.last_id  # the newest record was replaced (or the seal is wrong)
    return state.newest_id + 1  # missing newest records, or no head to vouch for them
