"""What this machine knows about a database, kept beside it but outside it.

A database that vanished (deleted, or its directory's contents moved away) would otherwise
be replaced by the next command with an empty one, silently; a main file restored without
its `-wal` (a "backup" of the main file alone), or an older copy moved over it, would open
without its newest records, and the audit chain, anchored inside the same file, would still
verify. So `<database>.known` (a JSON file named after the database, hence one of the
console's protected files) records that the database was created and the newest audit
record acknowledged in it. Opening refuses a missing or emptied database that has a marker
(first use creates both). A database whose newest audit record is older than the marker
says opens, as a broken audit head does (engine/audit_head.py), so the operator can look:
the loss is kept in the marker, and `daena audit verify` and `daena doctor` report it until
the operator deletes the marker.

The marker is rewritten in place after each commit that added audit records: one
fixed-size record at offset 0 (a few microseconds; a replace-by-rename costs a flush of its
own on ext4, over a millisecond) and without a sync. The newest id it writes is read inside
the committing transaction, before the COMMIT (a read after it would be a read transaction
of its own, several times the cost), and written only once the COMMIT succeeded. After a
crash it may lag behind the database (it only ever claims too little) but never runs ahead
of it, because with `synchronous=FULL` the commit is on disk first. A torn record reads as
"a database was here" with nothing known about its records.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from pathlib import Path

from engine.audit_head import key_path
from engine.errors import StorageError

SUFFIX = ".known"
RECORD_SIZE = 256


def marker_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + SUFFIX)


class KnownDatabase:
    """The marker of one database file."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.path = marker_path(db_path)
        self._written_id = -1
        self._fd: int | None = None
        self._created = time.time()
        self.lost: tuple[int, int] | None = None
        self._template: tuple[object, str, str] = (None, "", "")
        """(first, last) audit ids acknowledged in this database and no longer in it."""

    def _read(self) -> dict[str, object] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable or torn: it still says a database was here
        return data if isinstance(data, dict) else {}

    def check_present(self) -> None:
        """Before opening: refuse to start over where a known database has gone."""
        data = self._read()
        if data is None:
            return
        try:
            size = self.db_path.stat().st_size
        except FileNotFoundError:
            size = None
        if size:
            return
        what = "is missing" if size is None else "is empty"
        since = data.get("created")
        created = (
            f" on {time.strftime('%Y-%m-%d %H:%M', time.localtime(since))}"
            if isinstance(since, (int, float))
            else ""
        )
        raise StorageError(
            f"DAENA_DB_PATH: the database {self.db_path} {what}, but one was created there"
            f"{created} ({self.path} says so): it was deleted or moved. Restore it with its "
            f"-wal file, or delete {self.path} and {key_path(self.db_path)} (the old "
            "database's audit key) to start with an empty database"
        )

    def check_newest(self, conn: sqlite3.Connection) -> None:
        """After opening: note (for good) when records this machine acknowledged are gone."""
        data = self._read()
        if data is None:
            self.record(newest_audit_id(conn))  # first use: from now on this database is known
            return
        if isinstance(data.get("created"), (int, float)):
            self._created = float(data["created"])  # type: ignore[arg-type]
        known = data.get("audit_id")
        lost = data.get("lost")
        if isinstance(lost, list) and len(lost) == 2 and all(isinstance(i, int) for i in lost):
            self.lost = (lost[0], lost[1])
        newest = newest_audit_id(conn)
        if isinstance(known, int) and newest < known and self.lost is None:
            self.lost = (newest + 1, known)
        self._written_id = newest if known == newest and self.lost is None else -1
        self.record(newest)

    def problem(self) -> str | None:
        """What the marker says is wrong with the database, or None."""
        if self.lost is None:
            return None
        first, last = self.lost
        return (
            f"audit records {first} to {last} were acknowledged in {self.db_path} and are no "
            "longer in it (a -wal file removed, or an older copy put in its place): restore the "
            f"-wal file that belongs with it; delete {self.path} once the loss is accounted for"
        )

    def record(self, newest: int) -> None:
        """After a commit: note `newest`, the newest audit record it holds (read before the
        COMMIT, inside the transaction), when it moved (creating the marker)."""
        if newest == self._written_id:
            return
        around = (self._created, self.lost)
        if self._template[0] != around:  # the fixed fields, encoded once (not per commit)
            text = json.dumps({"created": self._created, "audit_id": 0, "lost": self.lost})
            head, _, tail = text.partition('"audit_id": 0')
            self._template = (around, head + '"audit_id": ', tail)
        _, head, tail = self._template
        record = f"{head}{newest}{tail}".encode().ljust(RECORD_SIZE - 1) + b"\n"
        try:
            if self._fd is None:
                flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                self._fd = os.open(self.path, flags | getattr(os, "O_BINARY", 0), 0o600)
            if hasattr(os, "pwrite"):
                os.pwrite(self._fd, record, 0)
            else:  # Windows
                os.lseek(self._fd, 0, os.SEEK_SET)
                os.write(self._fd, record)
        except OSError:
            return  # best effort: the database itself is what was acknowledged
        self._written_id = newest

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def newest_audit_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()
    return int(row[0])
