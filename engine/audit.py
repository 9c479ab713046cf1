"""The audit log (docs/security.md, promise 7): every attempt and decision, redacted,
hash-chained, exportable.

Each record stores the hash of the one before it; `verify()` recomputes the chain and names
the first record that does not match, so any edit, deletion or reordering is found. The
chain's head is anchored outside the chain (`engine.audit_head`), so deleting the newest
records is found too. Records are appended inside the caller's transaction, so the chain
is serialised across processes by SQLite's write lock.

Redaction (`Redactor`) is applied to every raw value before it is encoded or cut: secrets
are matched in the forms the engine writes them (raw, JSON- and repr-escaped,
percent-encoded); a secret's first `PARTIAL` characters are redacted wherever they stand
(what a tool's own output cap or a line wrap left of it), and any shorter beginning left
where the log itself cuts a text; URL credentials (`scheme://userinfo@`) are hidden. It
keeps the log from storing the console's secrets; it does not (cannot) find a secret an
agent chose to disguise (base64, reversed, split into pieces).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sqlite3
import time
import unicodedata
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from functools import partial
from typing import IO, Any

from engine import audit_head, audit_search, audit_verify
from engine.audit_head import GENESIS as GENESIS
from engine.audit_verify import Progress
from engine.audit_verify import VerifyReport as VerifyReport
from engine.errors import InputError
from engine.events import AuditAppended, Event
from engine.storage.database import Database, SyncTransaction, Transaction, dumps
from engine.storage.dialect import POSTGRESQL, without_nul

REDACTED = "***"
SUMMARY_CAP = 4000
MIN_SECRET = 4
"""Shorter configured secrets are not used as patterns (they would blank ordinary text)."""
PARTIAL = 8
"""A secret's first PARTIAL characters are redacted wherever they appear, with as much of
the rest as follows them: what a tool's own output cap or a line wrap left of a secret."""
SECRET_KEY = re.compile(
    r"(?i)(token|secret|passw|api[_-]?key|authorization|credential|private[_-]?key|cookie)"
)
_AUTHORITY = r"[^\s/?#\"'<>\\`]"
URL_USERINFO = re.compile(rf"(?i)\b([a-z][a-z0-9+.\-]*://)({_AUTHORITY}*)@")
"""`scheme://userinfo@`: userinfo runs to the last `@` of the authority, as URL parsers read it."""
_CUT_AUTHORITY = re.compile(rf"(?i)\b([a-z][a-z0-9+.\-]*://){_AUTHORITY}*$")
AGENT_TOKEN = re.compile(r"\b(daena_agent_[0-9a-f]+_)[A-Za-z0-9_\-]+")
"""An agent token (engine/credentials.py: prefix, public id, secret): the secret part goes."""
CSV_FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\u2212")
"""First characters a spreadsheet may evaluate (OWASP CSV injection, and full-width forms)."""


def secret_forms(secret: str) -> set[str]:
    """`secret` as the engine itself may write it: raw, JSON-escaped (with and without
    ASCII escapes), inside a Python repr (either quoting) and percent-encoded."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(secret + "'\"")[1:-4],  # inside a single-quoted repr (the text has both quotes)
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret, safe=""),
    }
    if '"' not in secret:  # inside a double-quoted repr (the text has a single quote)
        forms.add(repr(secret + "'")[1:-2])
    return {form for form in forms if len(form) >= MIN_SECRET}


class Redactor:
    """Removes values of secret-named keys, every configured secret in every form the
    engine writes it in, credentials inside URLs, and a secret's beginning left at a cut.

    Redaction works on raw values before anything is encoded or cut: a token with quotes or
    backslashes is found before JSON escapes it, and a text is redacted before it is capped.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._forms: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None
        self._partials: tuple[re.Pattern[str], ...] = ()
        self._partial_start: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) < MIN_SECRET or secret in self._secrets:
            return
        self._secrets.add(secret)
        forms = {form for known in self._secrets for form in secret_forms(known)}
        self._forms = tuple(sorted(forms, key=len, reverse=True))  # longest match wins
        self._pattern = re.compile("|".join(map(re.escape, self._forms)))
        long_forms = [form for form in self._forms if len(form) > PARTIAL]
        self._partials = tuple(re.compile(_beginning_of(form)) for form in long_forms)
        starts = {re.escape(form[:PARTIAL]) for form in long_forms}
        self._partial_start = re.compile("|".join(starts)) if starts else None

    def text(self, value: str) -> str:
        if self._pattern is not None:
            value = self._pattern.sub(REDACTED, value)
        if self._partial_start is not None and self._partial_start.search(value):
            value = self._without_beginnings(value)
        if "://" in value:
            value = URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", value)
        if "daena_agent_" in value:
            value = AGENT_TOKEN.sub(lambda m: f"{m.group(1)}{REDACTED}", value)
        return value

    def __call__(self, value: Any) -> Any:
        return self._walk(value, None)

    def _walk(self, value: Any, limit: int | None) -> Any:
        """`value` redacted; strings longer than `limit` are cut first (the cut redacted)."""
        if isinstance(value, str):
            if limit is not None and len(value) > limit:
                return self._tail(self.text(value[:limit]))
            return self.text(value)
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                name = self.text(key) if isinstance(key, str) else key
                if item not in (None, "") and SECRET_KEY.search(str(key)):
                    out[name] = REDACTED
                else:
                    out[name] = self._walk(item, limit)
            return out
        if isinstance(value, list | tuple):
            return [self._walk(v, limit) for v in value]
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric and self._pattern is not None and self._pattern.search(str(value)):
            return REDACTED  # a numeric token
        return value

    def encode(self, value: Any, *, limit: int | None = None) -> str:
        """`value` redacted, then as canonical JSON (checked again once encoded)."""
        text = dumps(self._walk(value, limit))
        if self._pattern is None:
            return text
        again = self.text(text)
        if again != text:  # escaping made a secret out of other characters: keep it JSON
            try:
                json.loads(again)
            except ValueError:
                return dumps(REDACTED)
        return again

    def cut(self, text: str, cap: int) -> str:
        """`text` (already redacted) cut to `cap` characters; a secret's beginning or a URL's
        authority left at the cut is redacted too."""
        if len(text) <= cap:
            return text
        return self._tail(text[:cap])

    def summary(self, value: Any, cap: int) -> str:
        """A redacted JSON preview of `value` of about `cap` characters. Long strings are
        cut first (each cut redacted like the last one), so a huge result is not encoded
        whole for a short preview."""
        window = cap + 2 * (len(self._forms[0]) if self._forms else 0) + 16
        return self.cut(self.encode(value, limit=window), cap)

    def _without_beginnings(self, value: str) -> str:
        """Each span holding the beginning of a secret in any form, replaced (the spans of
        all forms merged, so forms that start alike cannot leave a remainder)."""
        spans = sorted(m.span() for p in self._partials for m in p.finditer(value))
        out, at = [], 0
        for start, end in spans:
            if end <= at:
                continue
            if start >= at:
                out += [value[at:start], REDACTED]
            at = end
        return "".join([*out, value[at:]])

    def _tail(self, kept: str) -> str:
        longest = 0
        for form in self._forms:
            for size in range(min(len(form) - 1, len(kept)), longest, -1):
                if kept.endswith(form[:size]):
                    longest = size
                    break
        if longest:
            kept = kept[:-longest] + REDACTED
        match = _CUT_AUTHORITY.search(kept)
        if match:  # cut inside `scheme://user:pass` before its `@`
            kept = kept[: match.start()] + match.group(1) + REDACTED
        return kept


def _beginning_of(form: str) -> str:
    """A pattern for `form`'s first PARTIAL characters and as much of the rest as follows."""
    rest = ""
    for char in reversed(form[PARTIAL:]):
        rest = f"(?:{re.escape(char)}{rest})?"
    return re.escape(form[:PARTIAL]) + rest


def neutralise_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will show, not evaluate: a text whose first character (after
    any leading whitespace) could start a formula gets a leading single quote (OWASP)."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in CSV_FORMULA_START:
        return "'" + value
    # What a spreadsheet may skip before the formula: spaces, invisible format characters
    # (BOM, zero-width), controls.
    first = next((c for c in value if not _skippable(c)), "")
    return "'" + value if first in CSV_FORMULA_START else value


def _skippable(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cf", "Cc", "Zs")


@dataclass(frozen=True)
class AuditEntry:
    """What a caller records; the log adds id, time, redaction and the chain."""

    actor: str
    action: str
    status: str
    tool: str | None = None
    args: Any = None
    error: str | None = None
    duration_ms: float | None = None
    result_summary: str | None = None
    trace_id: str | None = None
    task_id: str | None = None
    approval_id: str | None = None
    result: Any = None
    """A structured result: the log redacts it, then encodes and caps it as the summary
    (preferred to `result_summary`, which is text already and is only redacted and capped)."""


@dataclass(frozen=True)
class AuditRecord:
    id: int
    ts: float
    actor: str
    action: str
    tool: str | None
    args: str | None
    status: str
    error: str | None
    duration_ms: float | None
    result_summary: str | None
    trace_id: str | None
    task_id: str | None
    approval_id: str | None
    prev_hash: str
    hash: str

    @property
    def time_iso(self) -> str:
        return datetime.fromtimestamp(self.ts, UTC).isoformat(timespec="milliseconds")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = self.time_iso
        data["args"] = json.loads(self.args) if self.args else None
        return data

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AuditRecord:
        return cls(*row)


_FIELDS = tuple(f.name for f in fields(AuditRecord))
"""The audit table's columns, in the record's order."""
_COLUMNS = ", ".join(_FIELDS)
_SELECT = ", ".join(f"audit.{name}" for name in _FIELDS)


class AuditPage(list[AuditRecord]):
    """A page of records, newest first; `scanned_to` is set when a bounded scan stopped
    before it was full (see `AuditLog.page`)."""

    def __init__(self, records: Iterable[AuditRecord] = (), scanned_to: int | None = None):
        super().__init__(records)
        self.scanned_to = scanned_to


def _newest_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(id) FROM audit").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _oldest_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MIN(id) FROM audit").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


@dataclass(frozen=True)
class AuditFilter:
    tool: str | None = None
    status: str | None = None
    text: str | None = None
    since: float | None = None
    until: float | None = None
    actor: str | None = None
    action: str | None = None

    def __post_init__(self) -> None:
        if self.text is not None and "\x00" in self.text:
            raise InputError("text: must not contain a NUL character")

    def matches(self, record: AuditRecord) -> bool:
        """The filter applied to one record in Python (a live tail), as the query does."""
        for column in ("tool", "status", "actor", "action"):
            wanted = getattr(self, column)
            if wanted and getattr(record, column) != wanted:
                return False
        if self.since is not None and record.ts < self.since:
            return False
        if self.until is not None and record.ts >= self.until:
            return False
        if not self.text:
            return True
        needle = self.text.lower()
        return any(
            needle in value.lower()
            for value in (getattr(record, c) for c in audit_search.SEARCHED)
            if value
        )

    def segments(self, indexed_through: int) -> list[audit_search.Segment]:
        """The filtered query, in parts over disjoint id ranges (see `audit_search`)."""
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("tool", "status", "actor", "action"):
            value = getattr(self, column)
            if value:
                clauses.append(f"audit.{column} = ?")
                params.append(value)
        if self.since is not None:
            clauses.append("audit.ts >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("audit.ts < ?")
            params.append(self.until)
        return audit_search.segments(self.text, clauses, params, indexed_through)


def record_hash(prev_hash: str, fields: list[Any]) -> str:
    """sha256 of the previous hash, a newline and `dumps(fields)` (a list of scalars,
    encoded by the verify's prepared encoder: the same text, without per-call setup)."""
    text = prev_hash + "\n" + audit_verify.encode_fields(fields)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _hashed_fields(record_id: int, ts: float, values: dict[str, Any]) -> list[Any]:
    return [
        record_id,
        ts,
        values["actor"],
        values["action"],
        values["tool"],
        values["args"],
        values["status"],
        values["error"],
        values["duration_ms"],
        values["result_summary"],
        values["trace_id"],
        values["task_id"],
        values["approval_id"],
    ]


class AuditLog:
    """Append, page, verify and export audit records."""

    def __init__(self, db: Database, redactor: Redactor) -> None:
        self._db = db
        self.redact = redactor
        self._key = audit_head.HeadKey(db.path)
        self._sealed: audit_head.Head | None = None  # the head this log wrote last
        self._verifier = audit_verify.Verifier(db, self._key)

    def _values(self, entry: AuditEntry) -> dict[str, Any]:
        """The stored columns: every text redacted from its raw value before any encoding or
        cap (action and status are the engine's own words)."""
        redact = self.redact

        def text(value: str | None) -> str | None:
            return None if value is None else redact.text(value)

        if entry.result is not None:
            summary: str | None = redact.summary(entry.result, SUMMARY_CAP)
        else:
            summary = text(entry.result_summary)
            summary = None if summary is None else redact.cut(summary, SUMMARY_CAP)
        values = {
            "actor": redact.text(entry.actor),
            "action": entry.action,
            "tool": text(entry.tool),
            "args": None if entry.args is None else redact.encode(entry.args),
            "status": entry.status,
            "error": text(entry.error),
            "duration_ms": None if entry.duration_ms is None else round(entry.duration_ms, 3),
            "result_summary": summary,
            "trace_id": text(entry.trace_id),
            "task_id": text(entry.task_id),
            "approval_id": text(entry.approval_id),
        }
        # PostgreSQL's text cannot hold NUL: stored, and so hashed, as U+FFFD there
        return without_nul(values) if self._db.dialect == POSTGRESQL else values

    async def append(self, tx: Transaction, entry: AuditEntry) -> int:
        """Add one record inside `tx`; returns its id."""
        return await tx.run(lambda stx: self.append_sync(stx, entry))

    def append_sync(
        self,
        stx: SyncTransaction,
        entry: AuditEntry,
        then: Callable[[int], Event] | None = None,
    ) -> int:
        """Add one record from the connection's thread (see `Database.write`), and move the
        anchored head to it in the same transaction (see `engine.audit_head`). `then(id)`
        is an event about the record stored with its own `AuditAppended` (one statement)."""
        values = self._values(entry)
        state = audit_head.read_state(stx.conn, writing=True)
        trouble = audit_head.problem(state, self._key.load(), known=self._sealed)
        key = self._key.ensure()
        prev = (state.newest_id, state.newest_hash)
        if trouble is not None:  # the break goes into the chain, where verify reports it
            reset = AuditEntry(
                actor="daena", action=audit_head.RESET_ACTION, status="error", error=trouble
            )
            prev = self._insert(stx, self._values(reset), *prev)
        record_id, digest = self._insert(stx, values, *prev, then=then)
        mac = audit_head.write(stx.conn, key, record_id, digest)
        self._sealed = audit_head.Head(record_id, digest, mac)
        return record_id

    def _insert(
        self,
        stx: SyncTransaction,
        values: dict[str, Any],
        prev_id: int,
        prev_hash: str,
        then: Callable[[int], Event] | None = None,
    ) -> tuple[int, str]:
        record_id = prev_id + 1
        ts = time.time()
        digest = record_hash(prev_hash, _hashed_fields(record_id, ts, values))
        stx.execute(
            f"INSERT INTO audit ({_COLUMNS}) VALUES ({','.join('?' * 15)})",
            (record_id, ts, *values.values(), prev_hash, digest),
        )
        if record_id % audit_search.INDEX_BATCH == 0:
            audit_search.index_pending(stx.conn, audit_search.APPEND_CHUNK)
            audit_search.order_pending(stx.conn, audit_search.APPEND_CHUNK)
        appended = AuditAppended(record_id, values["action"], values["tool"], values["status"])
        if then is None:
            stx.emit(appended)
        else:
            stx.emit(appended, then(record_id))
        return record_id, digest

    async def record(self, entry: AuditEntry) -> int:
        """Append in a transaction of its own."""
        return await self._db.write(lambda stx: self.append_sync(stx, entry))

    async def get(self, record_id: int) -> AuditRecord | None:
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM audit WHERE id = ?", (record_id,))
        return AuditRecord.from_row(row) if row else None

    async def page(
        self,
        filters: AuditFilter | None = None,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> AuditPage:
        """Newest first, at most `limit` records with ids in (after_id, before_id).

        Keyset paging: the cost is bounded by the rows between the bounds, never the table,
        so a live tail (`after_id` = newest shown) stays cheap even with a text filter.

        A text shorter than three characters has no index to use, so it is scanned, at most
        `audit_search.SHORT_SCAN` records per call: when the scan stops short of a full page,
        the page's `scanned_to` names the oldest id it looked at, and the next page continues
        with `before_id=scanned_to` (None: nothing older was left unlooked at). A page with
        `after_id` (a live tail) is not bounded: it reads everything it asks for.
        """
        chosen = filters or AuditFilter()
        scan = audit_search.short_scan(chosen.text)

        def read(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], int | None]:
            window = audit_search.id_window(conn, chosen.since, chosen.until)
            if window is None:
                return [], None
            low, cut = after_id, None
            if scan and after_id is None:  # a tail (`after_id`) reads all it asks for
                top = before_id if before_id is not None else _newest_id(conn) + 1
                if window[1] is not None:
                    top = min(top, window[1])
                low = top - scan - 1
                cut = low + 1
            rows = _select(conn, chosen, low, before_id, limit, newest_first=True, window=window)
            oldest = _oldest_id(conn) if window[0] is None else window[0] + 1
            if cut is not None and (len(rows) >= limit or cut <= oldest):
                cut = None  # the page is full, or the scan reached the oldest record
            return rows, cut

        rows, scanned_to = await self._db.read(read)
        return AuditPage(map(AuditRecord.from_row, rows), scanned_to)

    async def after(self, after_id: int, limit: int = 500) -> list[AuditRecord]:
        """Records newer than `after_id`, oldest first (live tail)."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM audit WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [AuditRecord.from_row(r) for r in rows]

    async def of_run(
        self, *, trace_id: str | None = None, task_id: str | None = None, limit: int = 1000
    ) -> list[AuditRecord]:
        """One run's records (by trace) or one task's, oldest first (a run timeline)."""
        column, value = ("trace_id", trace_id) if trace_id is not None else ("task_id", task_id)
        if value is None:
            raise InputError("trace_id: give a trace id or a task id")
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM audit WHERE {column} = ? ORDER BY id LIMIT ?", (value, limit)
        )
        return [AuditRecord.from_row(r) for r in rows]

    async def last_id(self) -> int:
        row = await self._db.fetchone("SELECT COALESCE(MAX(id), 0) FROM audit")
        return int(row[0]) if row else 0

    async def count(self, filters: AuditFilter | None = None) -> int:
        chosen = filters or AuditFilter()

        def count(conn: sqlite3.Connection) -> int:
            window = audit_search.id_window(conn, chosen.since, chosen.until)
            if window is None:
                return 0
            total = 0
            for segment in chosen.segments(audit_search.watermark(conn)):
                source, params = segment.bounded(*window)
                total += int(conn.execute(f"SELECT COUNT(*) {source}", params).fetchone()[0])
            return total

        return await self._db.read(count)

    async def iterate(
        self, filters: AuditFilter | None = None, batch: int = 5000
    ) -> AsyncIterator[AuditRecord]:
        """Every matching record, oldest first, in bounded batches."""
        async for rows in self._batches(filters or AuditFilter(), batch):
            for row in rows:
                yield AuditRecord.from_row(row)

    async def _batches(self, filters: AuditFilter, batch: int) -> AsyncIterator[list[Any]]:
        """The matching rows, oldest first, a bounded read at a time (iterate, export)."""
        last = 0
        while True:
            rows = await self._db.read(
                partial(
                    _select,
                    filters=filters,
                    after=last,
                    before=None,
                    limit=batch,
                    newest_first=False,
                )
            )
            if not rows:
                return
            yield rows
            last = int(rows[-1][0])

    async def index_backlog(self) -> int:
        """Index records the search index has not caught up with, a chunk per transaction
        so runs interleave; returns how many were indexed. The console and `daena serve`
        run this at start, for databases written before the index existed."""
        total = 0
        while moved := await self._db.write(
            lambda stx: audit_search.index_pending(stx.conn, audit_search.DRAIN_CHUNK)
        ):
            total += moved
        while await self._db.write(  # the records' time order, for time windows
            lambda stx: audit_search.order_pending(stx.conn, audit_search.ORDER_CHUNK)
        ):
            pass
        return total

    async def reindex(self) -> int:
        """Rebuild the search index from the records; returns the newest id indexed."""
        return await self._db.write(lambda stx: audit_search.rebuild(stx.conn))

    async def verify(
        self,
        *,
        incremental: bool = False,
        progress: Progress | None = None,
        slice_size: int = audit_verify.SLICE,
    ) -> VerifyReport:
        """Recompute the chain, then check its anchored head; report the first record whose
        hash or link is wrong, a recorded head reset, or newest records that are missing.
        With `incremental`, start from the sealed checkpoint of the last passing verify
        (see `engine.audit_verify` for what that checks). `progress(done, total)` is
        called as records are checked."""
        return await self._verifier.verify(
            incremental=incremental, progress=progress, slice_size=slice_size
        )

    async def prune(self, before_ts: float, operator: str) -> int:
        """Delete records older than `before_ts` (retention); the chain stays verifiable
        because the prune record names the first kept record and the hash it links to."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone("SELECT MIN(id) FROM audit WHERE ts >= ?", (before_ts,))
            if row is None or row[0] is None:  # everything is older: keep the newest record
                row = await tx.fetchone("SELECT MAX(id) FROM audit")
            if row is None or row[0] is None:
                return 0
            first_kept = int(row[0])
            anchor = await tx.fetchone("SELECT prev_hash FROM audit WHERE id = ?", (first_kept,))
            await tx.run(lambda stx: audit_search.forget_before(stx.conn, first_kept))
            cursor = await tx.execute("DELETE FROM audit WHERE id < ?", (first_kept,))
            deleted = cursor.rowcount
            if deleted:
                await self.append(
                    tx,
                    AuditEntry(
                        actor=operator,
                        action="audit_prune",
                        status="ok",
                        args={
                            "first_kept_id": first_kept,
                            "anchor_hash": anchor[0] if anchor else "",
                        },
                        result_summary=f"deleted {deleted} records older than {before_ts:.0f}",
                    ),
                )
        return deleted

    async def export(
        self,
        out: IO[str],
        fmt: str,
        filters: AuditFilter | None = None,
        *,
        progress: Progress | None = None,
        batch: int = 5000,
    ) -> int:
        """Write matching records as JSON lines (`jsonl`, exact) or CSV; returns the count.
        `progress(done, total)` is called per batch (total 0 when a filter makes it unknown).

        CSV is for spreadsheets, so it is safe to open there: a text cell that could start
        a formula is prefixed with `'` (`neutralise_cell`), in every column. Cells are not
        all wrapped in quotes: the csv module already quotes any cell holding a separator,
        quote or line break (so no cell can spill into the next), and quotes are CSV syntax
        a spreadsheet strips before it evaluates, so they would not stop a formula.

        Rows go straight from tuples to text, a batch per write (no per-record dataclass
        copy: `dataclasses.asdict` was about 70% of an export)."""
        chosen = filters or AuditFilter()
        total = 0
        if progress is not None and chosen == AuditFilter():
            total = await self._db.read(_id_span)
        writer = csv.writer(out) if fmt == "csv" else None
        if writer is not None:
            writer.writerow(_EXPORT_KEYS)
        count = 0
        async for rows in self._batches(chosen, batch):
            if writer is None:
                out.write("".join([_json_line(_export_dict(row)) for row in rows]))
            else:
                writer.writerows([_csv_cells(row) for row in rows])
            count += len(rows)
            if progress is not None:
                progress(count, max(total, count))
        return count


_EXPORT_KEYS = (*_FIELDS, "time")
"""An exported record's keys: the columns, then the time in ISO 8601 (UTC)."""
_json_encode = json.JSONEncoder(ensure_ascii=False).encode


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def _export_dict(row: Any) -> dict[str, Any]:
    """A record as exported (the same as `AuditRecord.to_dict`, straight from its row)."""
    data = dict(zip(_FIELDS, row, strict=True))
    data["time"] = _iso(row[1])
    data["args"] = json.loads(row[5]) if row[5] else None
    return data


def _json_line(data: dict[str, Any]) -> str:
    return _json_encode(data) + "\n"


def _csv_cells(row: Any) -> list[Any]:
    cells = [neutralise_cell(value) for value in row]
    if cells[5] is None:
        cells[5] = ""
    cells.append(_iso(row[1]))
    return cells


def _id_span(conn: sqlite3.Connection) -> int:
    """How many ids the log spans (its record count unless records were deleted)."""
    row = conn.execute("SELECT (SELECT MIN(id) FROM audit), (SELECT MAX(id) FROM audit)").fetchone()
    return 0 if row[0] is None else int(row[1]) - int(row[0]) + 1


def _select(
    conn: sqlite3.Connection,
    filters: AuditFilter,
    after: int | None,
    before: int | None,
    limit: int,
    *,
    newest_first: bool,
    window: tuple[int | None, int | None] | bool | None = True,
) -> list[sqlite3.Row]:
    """Up to `limit` matching rows with ids in (after, before), reading the query's
    segments in id order until the page is full. `window`: the filter's id window if the
    caller has it (True: read it here)."""
    if window is True:
        window = audit_search.id_window(conn, filters.since, filters.until)
    if window is None or window is False:
        return []
    after, before = audit_search.narrow(after, before, window)
    parts = filters.segments(audit_search.watermark(conn))
    order = "DESC" if newest_first else "ASC"
    rows: list[sqlite3.Row] = []
    for segment in reversed(parts) if newest_first else parts:
        if len(rows) >= limit:
            break
        source, params = segment.bounded(after, before)
        rows += conn.execute(
            f"SELECT {_SELECT} {source} ORDER BY {segment.key} {order} LIMIT ?",
            (*params, limit - len(rows)),
        ).fetchall()
    return rows


_VALUE_FIELDS = _FIELDS[2:-2]
"""The recorded values: everything but the id, the time and the chain."""
