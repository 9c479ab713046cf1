"""Which database the settings name, opened: SQLite (the default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from engine.events import EventBus
from engine.storage.database import Database
from engine.storage.urls import DatabaseTarget, parse_target


def target_of(db_url: str | None, db_path: Path) -> DatabaseTarget:
    """The backend `DAENA_DB_URL` (else `DAENA_DB_PATH`) names; ConfigError when bad."""
    return parse_target(db_url, db_path.expanduser())


async def open_target(
    target: DatabaseTarget, key_base: Path, bus: EventBus, *, read_only: bool = False
) -> Database:
    """Open (and migrate) the database. `key_base` names the audit head's key file for a
    server database (engine/audit_head.py): `DAENA_DB_PATH`, a protected path on this host.
    `read_only` (the observer): a connection the database itself keeps from writing."""
    if target.backend == "postgresql":
        from engine.storage.postgres import PostgresDatabase  # psycopg only when used

        assert target.url is not None
        return await PostgresDatabase.connect(
            target.url,
            key_base.expanduser(),  # noqa: ASYNC240 (no I/O)
            bus,
            read_only=read_only,
        )
    assert target.path is not None
    return await Database.open(target.path, bus, read_only=read_only)


async def open_database(
    db_url: str | None, db_path: Path, bus: EventBus, *, read_only: bool = False
) -> Database:
    return await open_target(target_of(db_url, db_path), db_path, bus, read_only=read_only)
