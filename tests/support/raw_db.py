"""The engine's database opened directly, beside the engine, on either backend.

Tests that read rows the engine wrote, or edit them as a forger with the database's
credentials would, go through `raw_db(settings)` instead of `sqlite3.connect(path)`, so the
same test runs on SQLite and on PostgreSQL (`--backend=postgresql`). Statements are written
in SQLite's dialect (`?` parameters); on PostgreSQL they pass through the engine's own
translation (engine/storage/dialect.py). Every statement commits on its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine import Settings
from engine.storage.backend import target_of


@contextmanager
def raw_db(settings: Settings) -> Iterator[Any]:
    """An autocommit connection to `settings`' database, closed when the block ends."""
    target = target_of(settings.daena_db_url, settings.daena_db_path)
    if target.backend == "postgresql":
        import psycopg

        from engine.storage.postgres import PgConnection

        assert target.url is not None
        pg = psycopg.connect(target.url, autocommit=True)
        try:
            yield PgConnection(pg)
        finally:
            pg.close()
        return
    assert target.path is not None
    conn = sqlite3.connect(target.path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()
