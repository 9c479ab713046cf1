"""`daena db`: which database the console uses (`info`) and moving it to a server (`migrate`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from daena_tui.cli.output import EXIT_TOOL_ERROR, fail, table
from daena_tui.cli.session import Cli
from engine import StorageError

COUNTED = ("audit", "approval_requests", "grants", "tasks", "events", "nodes")


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="the database: its backend and size, moving it to PostgreSQL")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(handler=db_info)
    actions.add_parser(
        "info", help="backend, schema version, sizes (the URL without its password)"
    ).set_defaults(handler=db_info)
    move = actions.add_parser(
        "migrate", help="copy the SQLite database into an empty PostgreSQL database"
    )
    move.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db")
    move.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="the SQLite file (default: DAENA_DB_PATH, or --db)",
    )
    move.set_defaults(handler=db_migrate)


async def db_info(args: argparse.Namespace, cli: Cli) -> int:
    from engine.events import EventBus
    from engine.storage.backend import open_target, target_of
    from engine.storage.migrations import MIGRATIONS

    settings = cli.settings
    target = target_of(settings.daena_db_url, settings.daena_db_path)
    db = await open_target(target, settings.daena_db_path, EventBus())
    try:
        version = await db.user_version()
        sizes = await db.table_sizes()
        counts = {}
        for name in COUNTED:
            row = await db.fetchone(f"SELECT COUNT(*) FROM {name}")
            counts[name] = int(row[0]) if row else 0
    finally:
        await db.close()
    data = {
        "backend": target.backend,
        "location": target.shown,
        "schema_version": version,
        "schema_known": len(MIGRATIONS),
        "rows": counts,
        "bytes": sizes,
        "total_bytes": sum(sizes.values()),
    }

    def text() -> str:
        head = (
            f"backend   {target.backend}\nlocation  {target.shown}\n"
            f"schema    {version} (this version knows {len(MIGRATIONS)})\n"
            f"size      {_size(sum(sizes.values())) if sizes else 'unknown'}\n"
        )
        rows = [
            (name, counts.get(name, ""), _size(sizes[name]) if name in sizes else "")
            for name in sorted({*counts, *sizes})
        ]
        return head + "\n" + table(rows, ["TABLE", "ROWS", "SIZE"])

    cli.emit(data, text)
    return 0


async def db_migrate(args: argparse.Namespace, cli: Cli) -> int:
    from engine.audit import AuditLog, Redactor
    from engine.events import EventBus
    from engine.storage.postgres import PostgresDatabase
    from engine.storage.transfer import copy_sqlite_to_postgres
    from engine.storage.urls import parse_target

    settings = cli.settings
    target = parse_target(args.to, settings.daena_db_path)
    if target.backend != "postgresql" or target.url is None:
        return fail("--to: give a postgresql:// URL (the database to copy into)")
    source = Path(args.source).expanduser() if args.source else settings.daena_db_path
    started = time.monotonic()

    def progress(table: str, count: int) -> None:
        if not cli.json and sys.stderr.isatty():
            sys.stderr.write(f"\r{table}: {count} rows ")
            sys.stderr.flush()

    report = await copy_sqlite_to_postgres(source, target.url, settings.daena_db_path, progress)
    if not cli.json and sys.stderr.isatty():
        sys.stderr.write("\n")
    db = await PostgresDatabase.connect(target.url, settings.daena_db_path, EventBus())
    try:
        verified = await AuditLog(db, Redactor(settings.secret_values())).verify()
    finally:
        await db.close()
    data = {
        "from": str(source),
        "to": target.shown,
        "rows": report.tables,
        "audit_key_copied": report.key_copied,
        "chain_ok": verified.ok,
        "chain_checked": verified.checked,
        "problem": verified.problem,
        "seconds": round(time.monotonic() - started, 3),
    }

    def text() -> str:
        lines = [f"copied {source} to {target.shown} in {data['seconds']} s"]
        lines += [f"  {name}: {count} rows" for name, count in report.tables.items()]
        if verified.ok:
            lines.append(f"audit chain verified on the target: {verified.checked} records")
            lines.append(f"use it with DAENA_DB_URL={target.shown} (with its password)")
        else:
            lines.append(f"audit chain does NOT verify on the target: {verified.problem}")
        return "\n".join(lines)

    cli.emit(data, text)
    if not verified.ok:
        raise StorageError(f"the copied audit chain does not verify: {verified.problem}")
    return 0 if verified.ok else EXIT_TOOL_ERROR


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)
