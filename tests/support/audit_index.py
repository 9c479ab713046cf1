"""A check that the audit search index holds exactly the stored records' text."""

from __future__ import annotations

from engine import Engine


async def assert_search_index_exact(eng: Engine) -> None:
    """Index any backlog, then run FTS5's own integrity check against the records (it
    raises if a record is missing, doubled or stale in the index)."""
    await eng.audit.index_backlog()
    if eng.db.dialect == "postgresql":
        await _assert_trgm_search_exact(eng)
        return
    await eng.db.write(
        lambda stx: stx.execute(
            "INSERT INTO audit_search (audit_search, rank) VALUES ('integrity-check', 1)"
        )
    )


async def _assert_trgm_search_exact(eng: Engine) -> None:
    """PostgreSQL: pg_trgm's GIN indexes are kept by the server; what can be wrong is the
    search through them, so every record is found by its own trace id, and only it."""
    from engine import AuditFilter

    records = [r async for r in eng.audit.iterate()]
    for rec in records[:: max(1, len(records) // 60)]:
        if rec.trace_id and len(rec.trace_id) >= 16:
            hits = await eng.audit.page(AuditFilter(text=rec.trace_id), limit=10)
            assert [r.id for r in hits] == [rec.id], rec.trace_id
