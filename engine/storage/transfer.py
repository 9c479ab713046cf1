"""Moving a SQLite database to a PostgreSQL server (`daena db migrate --to …`).

Every table is copied as it is (ids, the audit chain's hashes, the sealed head), in one
read snapshot of the source and one transaction on the target, so the target holds either
everything or nothing. The target must be empty (freshly migrated): a copy never merges two
histories, whose chains could not both verify. The audit head's key travels with the chain
(it lives beside DAENA_DB_PATH on this host: engine/audit_head.py); `copy_sqlite_to_postgres`
refuses a target key that differs from the source's, since the head would not verify.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from engine.audit_head import key_path
from engine.errors import StorageError
from engine.events import EventBus
from engine.storage.database import Database
from engine.storage.postgres import WRITE_LOCK, PostgresDatabase
from engine.storage.urls import redact_text, redact_url

SKIPPED_PREFIXES = ("sqlite_", "audit_search")
"""SQLite's own tables and the FTS5 index (PostgreSQL's pg_trgm indexes build themselves)."""
FIRST = ("exec_config", "tasks", "audit")
"""Parents before the tables whose foreign keys name them."""
REPLACED = ("audit_head",)
"""Rows the target's migrations created and the copy replaces (the sealed head)."""
BATCH = 5_000


@dataclass
class CopyReport:
    tables: dict[str, int] = field(default_factory=dict)
    """Rows copied per table."""
    key_copied: bool = False


async def copy_sqlite_to_postgres(
    source_path: Path,
    target_url: str,
    target_key_base: Path,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy the SQLite database at `source_path` into the empty database at `target_url`."""
    if not source_path.is_file():  # noqa: ASYNC240 (one stat before a long copy)
        raise StorageError(f"--from: {source_path} is not a SQLite database file")
    source = await Database.open(source_path, EventBus())  # brought to this schema version
    await source.close()
    target = await PostgresDatabase.connect(target_url, target_key_base, EventBus())
    await target.close()
    report = CopyReport(key_copied=_carry_key(source_path, target_key_base))
    await asyncio.to_thread(_copy, source_path, target_url, report, progress)
    return report


def _carry_key(source_path: Path, target_key_base: Path) -> bool:
    """Make the target's head key the source's; True when it was copied."""
    src, dst = key_path(source_path), key_path(target_key_base)
    if not src.exists() or src.resolve() == dst.resolve():
        return False
    key = src.read_bytes()
    if dst.exists():
        if dst.read_bytes().strip() != key.strip():
            raise StorageError(
                f"{dst} holds a different audit head key than {src}: the copied chain's head "
                "would not verify with it. Move it away first (it belongs to another database)"
            )
        return False
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return True


def _tables(src: sqlite3.Connection) -> list[str]:
    names = [
        str(r[0])
        for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if not str(r[0]).startswith(SKIPPED_PREFIXES)
    ]
    return sorted(names, key=lambda n: (FIRST.index(n) if n in FIRST else len(FIRST), n))


def _columns(src: sqlite3.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in src.execute(f'PRAGMA table_info("{table}")')]


def _copy(
    source_path: Path,
    target_url: str,
    report: CopyReport,
    progress: Callable[[str, int], None] | None,
) -> None:
    src = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, isolation_level=None)
    try:
        dst = psycopg.connect(target_url, autocommit=True)
    except psycopg.Error as err:
        src.close()
        raise StorageError(
            f"--to: cannot connect to {redact_url(target_url)}: {redact_text(str(err))}"
        ) from err
    try:
        src.execute("BEGIN")  # one snapshot of the source for the whole copy
        dst.execute("BEGIN")
        dst.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        _refuse_non_empty(dst, target_url)
        rebuild = _drop_search_indexes(dst)  # built once after the copy: far faster
        for table in _tables(src):
            theirs = _target_columns(dst, table)
            if not theirs:
                continue  # a table this version's PostgreSQL schema does not have
            columns = [c for c in _columns(src, table) if c in theirs]
            if table in REPLACED:
                dst.execute(f'DELETE FROM "{table}"')
            report.tables[table] = _copy_table(src, dst, table, columns, progress)
        for statement in rebuild:
            dst.execute(statement.encode())
        _advance_identities(dst)
        dst.execute("UPDATE audit_search_state SET indexed_through = 0")
        dst.execute("COMMIT")
        dst.execute("ANALYZE")  # the planner's statistics for what was just copied
    except psycopg.Error as err:
        raise StorageError(
            f"copy to {redact_url(target_url)} failed, nothing was written: "
            f"{redact_text(' '.join(str(err).split()))}"
        ) from err
    finally:
        src.close()
        dst.close()


def _refuse_non_empty(dst: psycopg.Connection[Any], target_url: str) -> None:
    for table in ("audit", "exec_config", "approval_requests", "tasks", "nodes"):
        row = dst.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()
        if row and row[0]:
            raise StorageError(
                f"--to: {redact_url(target_url)} already holds records ({table} is not empty): "
                "copy into an empty database (CREATE DATABASE …), never over another history"
            )


def _drop_search_indexes(dst: psycopg.Connection[Any]) -> list[str]:
    """Drop the audit's trigram indexes (when this role owns them) and return the statements
    that build them again: one build after a million rows instead of a million updates."""
    rows = dst.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c "
        "ON c.relname = i.indexname WHERE i.schemaname = current_schema() "
        "AND i.tablename = 'audit' AND i.indexname LIKE 'audit_trgm_%%' "
        "AND pg_has_role(current_user, c.relowner, 'USAGE')"
    ).fetchall()
    for name, _ in rows:
        dst.execute(f'DROP INDEX "{name}"')
    return [str(definition) for _, definition in rows]


def _target_columns(dst: psycopg.Connection[Any], table: str) -> set[str]:
    rows = dst.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    return {str(r[0]) for r in rows}


def _copy_table(
    src: sqlite3.Connection,
    dst: psycopg.Connection[Any],
    table: str,
    columns: list[str],
    progress: Callable[[str, int], None] | None,
) -> int:
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = src.execute(f'SELECT {quoted} FROM "{table}" ORDER BY rowid')
    count = 0
    with dst.cursor().copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
        while rows := cursor.fetchmany(BATCH):
            for row in rows:
                copy.write_row(row)
            count += len(rows)
            if progress is not None:
                progress(table, count)
    return count


def _advance_identities(dst: psycopg.Connection[Any]) -> None:
    """Identity columns continue after the copied ids (new events do not reuse one)."""
    rows = dst.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ).fetchall()
    for table, column in rows:
        dst.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
            f'COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)'
        )
