"""The engine's database opened directly, beside the engine, on either backend.

Tests that read rows the engine wrote, or edit them as a forger with the database's
credentials would, go through `raw_db(settings)` (or `raw_db(db_path)`, the database the
test's settings for that path name) instead of `sqlite3.connect(path)`, so the
same test runs on SQLite and on PostgreSQL (its `[postgresql]` variant). Statements are written
in SQLite's dialect (`?` parameters); on PostgreSQL they pass through the engine's own
translation (engine/storage/dialect.py). Every statement commits on its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import Settings
from engine.storage.backend import target_of


@contextmanager
def raw_db(where: Settings | Path) -> Iterator[Any]:
    """An autocommit connection to the database, closed when the block ends."""
    if isinstance(where, Path):
        from tests.conftest import backend_url

        target = target_of(backend_url(where), where)
    else:
        target = target_of(where.daena_db_url, where.daena_db_path)
    if target.backend == "postgresql":
        import psycopg

        from engine.storage.postgres import PgConnection, _rows

        assert target.url is not None
        pg = psycopg.connect(target.url, autocommit=True)
        pg.row_factory = _rows  # rows equal tuples and read by name, as the engine's do
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
