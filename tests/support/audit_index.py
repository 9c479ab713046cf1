"""A check that the audit search index holds exactly the stored records' text."""

from __future__ import annotations

from engine import Engine


async def assert_search_index_exact(eng: Engine) -> None:
    """Index any backlog, then run FTS5's own integrity check against the records (it
    raises if a record is missing, doubled or stale in the index)."""
    await eng.audit.index_backlog()
    await eng.db.write(
        lambda stx: stx.execute(
            "INSERT INTO audit_search (audit_search, rank) VALUES ('integrity-check', 1)"
        )
    )
