"""The audit chain's anchored head (security promise 7): deleting the newest records shows.

The hash chain proves that every record links to the one before it, but not that nothing
came after the last one: deleting the newest N records leaves a shorter chain that still
verifies. So the log also keeps the chain's head, the id and hash of the newest record, in
the one-row table `audit_head`, updated in the same transaction as every append (one UPDATE
of one row, so an append and its anchor commit together or not at all), and seals it with
an HMAC keyed by a secret kept outside the database.

Why an anchored head and not a keyed chain: the chain stays verifiable by anyone with the
database alone (no key needed to find an edited or deleted record inside it), retention
pruning keeps working unchanged (the prune record anchors the oldest end, the head the
newest), and the cost is one HMAC and one UPDATE per append.

The key is `<database file>.audit-key`: 32 random bytes (hex), created on first use with
mode 0600 beside the database (by default in the user's data directory, outside the
workspace) and one of the console's protected files (`engine.safety.protected`), so no
tool can read or write it. Someone who can edit the database but not read the key cannot
delete the newest records, delete the head row or rewrite it without `verify` saying so.
Someone holding both (the machine's user) can rewrite anything; the operator is trusted.

A head with no seal is accepted only while no key exists: a database from before the
anchor, or a new one, until its first append creates the key and seals the head. When an
append finds the head missing, unsealed, not verifying or not naming the newest record, it
first writes an `audit_head_reset` record saying what it found and then goes on, so the
console keeps working and the break stays in the chain, where `verify` reports it until a
prune removes it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from engine.errors import StorageError
from engine.storage.dialect import is_postgres

GENESIS = "0" * 64
KEY_SUFFIX = ".audit-key"
RESET_ACTION = "audit_head_reset"

# One statement, so the head and the newest record are read from one snapshot.
_STATE = (
    "SELECT h.last_id, h.last_hash, h.mac, a.id, a.hash FROM (SELECT 1) AS one "
    "LEFT JOIN audit_head AS h ON h.id = 1 "
    "LEFT JOIN (SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1) AS a ON TRUE"
)


def key_path(db_path: Path) -> Path:
    """Where the head's key for the database at `db_path` lives."""
    return db_path.with_name(db_path.name + KEY_SUFFIX)


@dataclass(frozen=True)
class Head:
    last_id: int
    last_hash: str
    mac: str | None


@dataclass(frozen=True)
class ChainState:
    """The anchored head (None when its row is gone) and the newest record, as read together."""

    head: Head | None
    newest_id: int
    newest_hash: str


def read_state(conn: sqlite3.Connection, *, writing: bool = False) -> ChainState:
    """The head and the newest record. A reader needs one statement (one snapshot); inside
    a write transaction nothing else can append, so two plain lookups are enough (faster)."""
    if writing:
        # PostgreSQL: the head row stays locked until the append commits, so the chain is
        # one line even for a writer that did not take the backend's write lock.
        lock = " FOR UPDATE" if is_postgres(conn) else ""
        found = conn.execute(f"SELECT last_id, last_hash, mac FROM audit_head WHERE id = 1{lock}")
        newest = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        row = (*(found.fetchone() or (None, None, None)), *(newest or (None, None)))
    else:
        row = conn.execute(_STATE).fetchone()
    head = None if row[0] is None else Head(int(row[0]), str(row[1]), row[2])
    return ChainState(head, int(row[3] or 0), str(row[4]) if row[3] is not None else GENESIS)


def seal(key: bytes, last_id: int, last_hash: str) -> str:
    message = f"daena-audit-head\n{last_id}\n{last_hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def write(conn: sqlite3.Connection, key: bytes, last_id: int, last_hash: str) -> str:
    """Anchor the head at (`last_id`, `last_hash`), inside the caller's transaction;
    returns the seal written."""
    mac = seal(key, last_id, last_hash)
    conn.execute(
        "INSERT INTO audit_head (id, last_id, last_hash, mac) VALUES (1, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET last_id = excluded.last_id, "
        "last_hash = excluded.last_hash, mac = excluded.mac",
        (last_id, last_hash, mac),
    )
    return mac


def seal_newest(conn: sqlite3.Connection, db_path: Path) -> None:
    """Anchor the head at the newest record as it is now, for a tool that writes records in
    bulk outside the log (the benchmark generator). It vouches for nothing before: only
    someone holding the key can call it usefully, and that someone is trusted anyway."""
    state = read_state(conn)
    write(conn, HeadKey(db_path).ensure(), state.newest_id, state.newest_hash)


def problem(state: ChainState, key: bytes | None, *, known: Head | None = None) -> str | None:
    """What is wrong with the head, or None when it proves the newest record is the last.
    A head equal to `known` (the one this process sealed last) needs no second HMAC."""
    head = state.head
    if head is None:
        return "the head anchor is missing (its audit_head row was deleted)"
    if head == known:
        pass
    elif head.mac is None:
        if key is not None:
            return "the head anchor is not sealed although its key exists (it was edited)"
    elif key is None:
        return "the head anchor's key file is missing, so the newest records cannot be checked"
    elif not hmac.compare_digest(head.mac, seal(key, head.last_id, head.last_hash)):
        return "the head anchor does not verify (it was edited without the key)"
    if state.newest_id < head.last_id:
        return (
            f"the newest {head.last_id - state.newest_id} records are missing "
            f"(head says id {head.last_id}, last record is {state.newest_id})"
        )
    if state.newest_id > head.last_id:
        return (
            f"records after {head.last_id} were not written by the audit log "
            f"(head says id {head.last_id}, last record is {state.newest_id})"
        )
    if state.newest_hash != head.last_hash:
        return f"record {head.last_id} is not the record the head anchor names (it was replaced)"
    return None


class HeadKey:
    """The key of one database's head: read once, created on first use."""

    def __init__(self, db_path: Path) -> None:
        self._path = None if str(db_path) == ":memory:" else key_path(db_path)
        self._key: bytes | None = secrets.token_hex(32).encode() if self._path is None else None

    @property
    def path(self) -> Path | None:
        return self._path

    def load(self) -> bytes | None:
        """The key, or None when it does not exist (yet)."""
        if self._key is None and self._path is not None:
            try:
                fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except FileNotFoundError:
                return None
            except OSError as err:
                raise StorageError(
                    f"the audit head's key {self._path} cannot be read: {err.strerror or err}"
                ) from err
            with os.fdopen(fd, "rb") as handle:
                self._key = handle.read().strip() or None
        return self._key

    def ensure(self) -> bytes:
        """The key, creating it (mode 0600, never over an existing file) if there is none."""
        key = self.load()
        if key is not None:
            return key
        assert self._path is not None
        fresh = secrets.token_hex(32).encode()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self._path, flags, 0o600)
        except FileExistsError:  # another process made it first
            key = self.load()
            if key is None:
                raise
            return key
        with os.fdopen(fd, "wb") as handle:
            handle.write(fresh + b"\n")
        self._key = fresh
        return fresh
