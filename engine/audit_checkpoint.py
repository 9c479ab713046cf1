"""Where the last audit verify that passed ended, sealed, so the next verify can start there.

A full verify recomputes every record's hash: about 5 µs a record, 25 s at 5,000,000. The
checkpoint (the one-row table `audit_checkpoint`, migration 12) records the id and hash of
the newest record that verify found sound, the oldest id it started from, and where the
rotating re-check of older records (`slice_next`) stands. It is sealed with an HMAC under
the audit head's key (engine/audit_head.py), so someone who can edit the database but not
read the key cannot forge one, move it forward past records they changed, or edit it
without `verify` saying so. Deleting it only makes the next verify a full one.

What an incremental verify then proves is written down in docs/security.md (promise 7).
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Checkpoint:
    last_id: int
    """The newest record the last passing verify checked."""
    last_hash: str
    """Its hash then: if any record up to it was changed and the chain re-linked, it differs."""
    first_id: int
    """The oldest record then (a prune since makes the checkpoint stale)."""
    slice_next: int
    """The next older record the rotating re-check starts from."""
    full_pass_at: float
    """When a full verify last passed."""
    checked_at: float

    def message(self) -> bytes:
        return (
            f"daena-audit-checkpoint\n{self.last_id}\n{self.last_hash}\n{self.first_id}\n"
            f"{self.slice_next}\n{self.full_pass_at!r}\n{self.checked_at!r}"
        ).encode()


def seal(key: bytes, checkpoint: Checkpoint) -> str:
    return hmac.new(key, checkpoint.message(), hashlib.sha256).hexdigest()


def read(conn: sqlite3.Connection) -> tuple[Checkpoint, str] | None:
    """The stored checkpoint and its seal, or None when there is none."""
    row = conn.execute(
        "SELECT last_id, last_hash, first_id, slice_next, full_pass_at, checked_at, mac "
        "FROM audit_checkpoint WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    checkpoint = Checkpoint(
        int(row[0]), str(row[1]), int(row[2]), int(row[3]), float(row[4]), float(row[5])
    )
    return checkpoint, str(row[6])


def valid(checkpoint: Checkpoint, mac: str, key: bytes) -> bool:
    return hmac.compare_digest(mac, seal(key, checkpoint))


def write(conn: sqlite3.Connection, key: bytes, checkpoint: Checkpoint) -> None:
    """Store `checkpoint` sealed (inside the caller's write transaction)."""
    conn.execute(
        "INSERT INTO audit_checkpoint (id, last_id, last_hash, first_id, slice_next, "
        "full_pass_at, checked_at, mac) VALUES (1, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET last_id = excluded.last_id, "
        "last_hash = excluded.last_hash, first_id = excluded.first_id, "
        "slice_next = excluded.slice_next, full_pass_at = excluded.full_pass_at, "
        "checked_at = excluded.checked_at, mac = excluded.mac",
        (
            checkpoint.last_id,
            checkpoint.last_hash,
            checkpoint.first_id,
            checkpoint.slice_next,
            checkpoint.full_pass_at,
            checkpoint.checked_at,
            seal(key, checkpoint),
        ),
    )
