"""Substring search over the audit log: a trigram index, brought up to date in batches.

A text filter means "contains", which no ordinary index can answer: at 1,000,000 records a
rare term scanned the whole table (0.4-1.4 s). An FTS5 trigram index answers it in
milliseconds, but indexing each record in the transaction that appends it costs ~130 µs
(FTS5 writes a segment per commit), a third of an audited run. So records are indexed
`INDEX_BATCH` at a time by whichever append reaches a multiple of it, and a search reads
the index for records up to the watermark and scans the few newer ones. Terms shorter than
three characters cannot use trigrams; they match often, so a scan fills a page quickly.

The index stores no text of its own (external content: it reads `audit`), about 300 bytes
per 100-character record.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from engine.storage.dialect import is_postgres

INDEX_BATCH = 256
"""An append whose id is a multiple of this indexes the records before it."""
APPEND_CHUNK = 2_048
"""At most this many records are indexed by one append (bounds its latency)."""
DRAIN_CHUNK = 5_000
"""Records indexed per transaction when a backlog is drained in the background."""
MIN_INDEXED_TERM = 3
SHORT_SCAN = 100_000
"""Records one page of a text under MIN_INDEXED_TERM characters scans at most (~60 ms at
5,000,000 records); the page says where it stopped (`AuditPage.scanned_to`)."""
NO_INDEX = -1
"""The watermark on PostgreSQL, where no separate index needs catching up."""
SEARCHED = ("args", "error", "result_summary", "tool", "actor", "trace_id")

_COLUMNS = ", ".join(SEARCHED)


def watermark(conn: sqlite3.Connection) -> int:
    """The id up to which every record is in the index (PostgreSQL: NO_INDEX, its pg_trgm
    GIN indexes cover each record as it is written, so `segments` has one scan only)."""
    if is_postgres(conn):
        return NO_INDEX
    row = conn.execute("SELECT indexed_through FROM audit_search_state").fetchone()
    return int(row[0]) if row else 0


def index_pending(conn: sqlite3.Connection, limit: int) -> int:
    """Index up to `limit` records above the watermark (inside the caller's write
    transaction); returns how many ids the watermark moved by, 0 when up to date."""
    if is_postgres(conn):
        return 0
    start = watermark(conn)
    row = conn.execute("SELECT MAX(id) FROM audit").fetchone()
    top = int(row[0]) if row and row[0] is not None else 0
    end = min(top, start + limit)
    if end <= start:
        return 0
    conn.execute(
        f"INSERT INTO audit_search (rowid, {_COLUMNS}) "
        f"SELECT id, {_COLUMNS} FROM audit WHERE id > ? AND id <= ?",
        (start, end),
    )
    conn.execute("UPDATE audit_search_state SET indexed_through = ?", (end,))
    return end - start


def forget_before(conn: sqlite3.Connection, first_kept: int) -> None:
    """Take records older than `first_kept` out of the index; call before deleting them."""
    if is_postgres(conn):
        return  # the GIN indexes drop deleted rows themselves
    conn.execute(
        f"INSERT INTO audit_search (audit_search, rowid, {_COLUMNS}) "
        f"SELECT 'delete', id, {_COLUMNS} FROM audit WHERE id < ? AND id <= ?",
        (first_kept, watermark(conn)),
    )


def rebuild(conn: sqlite3.Connection) -> int:
    """Index every record from scratch (repairs an index left wrong by edited records)."""
    if is_postgres(conn):  # GIN indexes follow every UPDATE; REINDEX repairs a damaged one
        owner = conn.execute(
            "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class "
            "WHERE oid = 'audit'::regclass"
        ).fetchone()
        if owner and owner[0]:  # (a role with data rights only may not: docs/deployment.md)
            conn.execute("REINDEX TABLE audit")
        row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()
        return int(row[0]) if row else 0
    conn.execute("INSERT INTO audit_search (audit_search) VALUES ('rebuild')")
    row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()
    top = int(row[0]) if row else 0
    conn.execute("UPDATE audit_search_state SET indexed_through = ?", (top,))
    return top


@dataclass(frozen=True)
class Segment:
    """One part of a filtered query: `FROM … WHERE …`, its parameters, and the id column
    to bound and order by. Segments cover disjoint id ranges, oldest range first."""

    source: str
    params: tuple[Any, ...]
    key: str

    def bounded(self, after: int | None, before: int | None) -> tuple[str, tuple[Any, ...]]:
        sql, params = self.source, list(self.params)
        for bound, op in ((after, ">"), (before, "<")):
            if bound is not None:
                sql += f" AND {self.key} {op} ?"
                params.append(bound)
        return sql, tuple(params)


WINDOW_PROBE = 250_000
"""Index entries read, at most, to turn one side of a time window into an id bound when
the records' time order has not been checked that far (`order_pending`)."""
ORDER_CHUNK = 50_000
"""Records whose time order one background transaction checks (about 25 ms)."""


def order_pending(conn: sqlite3.Connection, limit: int) -> int:
    """Check the time order of up to `limit` records above the `ordered_through` watermark
    (inside the caller's write transaction); returns how many were checked.

    A record is in order when its time is at least every earlier record's (`max_ts`);
    the others (a clock set back) are listed in `audit_clock_steps`. In-order records'
    times never fall as ids rise, so the time index alone gives exact id bounds for them
    (`id_window`), and the few listed ones are looked at one by one."""
    row = conn.execute("SELECT ordered_through, max_ts FROM audit_search_state").fetchone()
    if row is None:
        return 0
    start, max_ts = int(row[0]), row[1]
    rows = conn.execute(
        "SELECT id, ts FROM audit WHERE id > ? ORDER BY id LIMIT ?", (start, limit)
    ).fetchall()
    if not rows:
        return 0
    steps = []
    for record_id, ts in rows:
        if max_ts is not None and ts < max_ts:
            steps.append((record_id,))
        else:
            max_ts = ts
    if steps:
        conn.executemany("INSERT INTO audit_clock_steps (id) VALUES (?)", steps)
    conn.execute(
        "UPDATE audit_search_state SET ordered_through = ?, max_ts = ?", (rows[-1][0], max_ts)
    )
    return len(rows)


def _ordered_through(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT ordered_through FROM audit_search_state").fetchone()
    return int(row[0]) if row else 0


def _newest_before(conn: sqlite3.Connection, until: float, ordered: int) -> int | None:
    """The highest id with ts < until, exactly: the in-order record with the latest such
    time (the time index, skipping the listed out-of-order ones), the listed ones, and the
    records not yet checked (above `ordered`), whichever is highest. (`+ts` keeps SQLite
    from walking the time index where the id is the narrow side.)"""
    found = [
        conn.execute(
            "SELECT id FROM audit INDEXED BY audit_by_ts WHERE ts < ? AND id <= ? "
            "AND id NOT IN (SELECT id FROM audit_clock_steps) ORDER BY ts DESC, id DESC "
            "LIMIT 1",
            (until, ordered),
        ).fetchone(),
        conn.execute(
            "SELECT MAX(s.id) FROM audit_clock_steps AS s "
            "WHERE (SELECT a.ts FROM audit AS a WHERE a.id = s.id) < ?",
            (until,),
        ).fetchone(),
        conn.execute(
            "SELECT MAX(id) FROM audit WHERE id > ? AND +ts < ?", (ordered, until)
        ).fetchone(),
    ]
    ids = [int(r[0]) for r in found if r is not None and r[0] is not None]
    return max(ids) if ids else None


def _oldest_since(conn: sqlite3.Connection, since: float, ordered: int) -> int | None:
    """The lowest id with ts >= since, exactly (as `_newest_before`, the other way)."""
    found = [
        conn.execute(
            "SELECT id FROM audit INDEXED BY audit_by_ts WHERE ts >= ? AND id <= ? "
            "AND id NOT IN (SELECT id FROM audit_clock_steps) ORDER BY ts, id LIMIT 1",
            (since, ordered),
        ).fetchone(),
        conn.execute(
            "SELECT MIN(s.id) FROM audit_clock_steps AS s "
            "WHERE (SELECT a.ts FROM audit AS a WHERE a.id = s.id) >= ?",
            (since,),
        ).fetchone(),
        conn.execute(
            "SELECT MIN(id) FROM audit WHERE id > ? AND +ts >= ?", (ordered, since)
        ).fetchone(),
    ]
    ids = [int(r[0]) for r in found if r is not None and r[0] is not None]
    return min(ids) if ids else None


def id_window(
    conn: sqlite3.Connection, since: float | None, until: float | None
) -> tuple[int | None, int | None] | None:
    """Exclusive id bounds (after, before) that every record in [since, until) lies within,
    or None when no record does.

    Ids follow append order and times almost do, so a window far from the newest records
    would otherwise be found by walking every newer one (1.5 s for a common term at 1M
    records). The bounds are exact, not guessed from times: the lowest id at or after
    `since` and the highest before `until`, read from the time index when that side has
    fewer than WINDOW_PROBE records (when it has more, the bound would save little).
    """
    after = before = None
    ordered = _ordered_through(conn) if since is not None or until is not None else 0
    if ordered and _unchecked(conn, ordered) <= MAX_UNCHECKED:
        if since is not None:
            low = _oldest_since(conn, since, ordered)
            if low is None:
                return None
            after = low - 1
        if until is not None:
            high = _newest_before(conn, until, ordered)
            if high is None:
                return None
            before = high + 1
        return after, before
    if since is not None:
        count, low = conn.execute(
            "SELECT COUNT(*), MIN(id) FROM (SELECT id FROM audit INDEXED BY audit_by_ts "
            "WHERE ts >= ? ORDER BY ts LIMIT ?) AS w",
            (since, WINDOW_PROBE),
        ).fetchone()
        if count == 0:
            return None
        if count < WINDOW_PROBE:
            after = int(low) - 1
    if until is not None:
        count, high = conn.execute(
            "SELECT COUNT(*), MAX(id) FROM (SELECT id FROM audit INDEXED BY audit_by_ts "
            "WHERE ts < ? ORDER BY ts DESC LIMIT ?) AS w",
            (until, WINDOW_PROBE),
        ).fetchone()
        if count == 0:
            return None
        if count < WINDOW_PROBE:
            before = int(high) + 1
    return after, before


MAX_UNCHECKED = 20_000
"""Records above the time-order watermark `id_window` reads one by one, at most."""


def _unchecked(conn: sqlite3.Connection, ordered: int) -> int:
    row = conn.execute("SELECT MAX(id) FROM audit").fetchone()
    return (int(row[0]) if row and row[0] is not None else 0) - ordered


def narrow(
    after: int | None, before: int | None, window: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    """The tighter of two pairs of exclusive id bounds."""
    low, high = window
    if low is not None:
        after = low if after is None else max(after, low)
    if high is not None:
        before = high if before is None else min(before, high)
    return after, before


def short_scan(text: str | None) -> int:
    """How many records a page with this text filter may scan (0: no bound, an index
    answers it)."""
    return SHORT_SCAN if text and len(text) < MIN_INDEXED_TERM else 0


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def segments(
    text: str | None, clauses: list[str], params: list[Any], indexed_through: int
) -> list[Segment]:
    """The query for `clauses` (on `audit`) plus an optional contains-`text` filter."""
    where = " AND ".join(["TRUE", *clauses])
    if not text:
        return [Segment(f"FROM audit WHERE {where}", tuple(params), "audit.id")]
    like = " OR ".join(f"audit.{c} LIKE ? ESCAPE '\\'" for c in SEARCHED)
    like_params = (like_pattern(text),) * len(SEARCHED)
    if len(text) < MIN_INDEXED_TERM or indexed_through == NO_INDEX:
        source = f"FROM audit WHERE {where} AND ({like})"
        return [Segment(source, (*params, *like_params), "audit.id")]
    phrase = '"' + text.replace('"', '""') + '"'
    return [
        # CROSS JOIN keeps the index as the outer loop: the other order re-runs the
        # full-text query for every row (minutes at 1M records).
        Segment(
            "FROM audit_search CROSS JOIN audit ON audit.id = audit_search.rowid "
            f"WHERE audit_search MATCH ? AND audit_search.rowid <= ? AND {where}",
            (phrase, indexed_through, *params),
            "audit_search.rowid",
        ),
        Segment(
            f"FROM audit WHERE audit.id > ? AND {where} AND ({like})",
            (indexed_through, *params, *like_params),
            "audit.id",
        ),
    ]
