"""The audit log on PostgreSQL: tampering found as on SQLite, hostile text recorded, and the
dialect translation that carries SQLite's SQL over."""

from __future__ import annotations

import pytest

from engine import AuditEntry, AuditFilter, Engine
from engine.storage.dialect import schema_to_postgres, to_postgres, unportable
from engine.storage.migrations import MIGRATIONS
from engine.storage.postgres_migrations import POSTGRES_FORMS, postgres_migration


async def fill(eng: Engine, n: int = 12) -> None:
    for i in range(n):
        await eng.audit.record(
            AuditEntry(actor="op@test", action="note", status="ok", args={"i": i})
        )


@pytest.fixture
async def pg(pg_url: str, workspace, db_path):  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    async with Engine.open(make_settings(workspace, db_path, DAENA_DB_URL=pg_url)) as eng:
        yield eng


pytestmark = pytest.mark.no_postgres


async def test_deleting_the_newest_records_is_found(pg: Engine) -> None:
    await fill(pg)
    top = await pg.audit.last_id()
    await pg.db._conn.execute("DELETE FROM audit WHERE id > ?", (top - 3,))  # type: ignore[attr-defined]
    report = await pg.audit.verify()
    assert not report.ok and "missing" in (report.problem or "")


async def test_an_edited_record_is_found(pg: Engine) -> None:
    await fill(pg)
    await pg.db._conn.execute("UPDATE audit SET status = 'error' WHERE id = 5")  # type: ignore[attr-defined]
    report = await pg.audit.verify()
    assert not report.ok and report.first_broken_id == 5


async def test_hostile_text_with_nul_is_recorded_searched_and_verifies(pg: Engine) -> None:
    await pg.set_tool_enabled("filesystem_write", True)
    request = await pg.as_agent("bot").request(
        "filesystem_write", {"path": "ab.txt", "content": "x\x00y"}, reason="hide\x00me"
    )
    assert "\x00" not in (await pg.approvals.get(request.id)).reason
    await pg.audit.record(
        AuditEntry(actor="agent:x\x00y", action="note", status="ok", error="e\x00rr")
    )
    hits = await pg.audit.page(AuditFilter(text="agent:x"))
    assert hits and hits[0].actor == "agent:x\ufffdy"
    assert (await pg.audit.verify()).ok


def test_translation_keeps_quoted_text_and_maps_the_rest() -> None:
    assert to_postgres("SELECT '?', \"a?\" FROM t WHERE x = ? AND y LIKE ?") == (
        "SELECT '?', \"a?\" FROM t WHERE x = %s AND y ILIKE %s"
    )
    assert (
        to_postgres("SELECT '100%' WHERE 1 ORDER BY id") == "SELECT '100%%' WHERE TRUE ORDER BY id"
    )
    assert to_postgres("INSERT OR IGNORE INTO t (a) VALUES (?)") == (
        "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING"
    )
    replaced = to_postgres("INSERT OR REPLACE INTO run_leases (trace_id, owner_pid) VALUES (?, ?)")
    assert replaced.endswith("ON CONFLICT (trace_id) DO UPDATE SET owner_pid = excluded.owner_pid")
    assert "CAST(%s AS BIGINT) <> 0" in to_postgres("UPDATE t SET a = CASE WHEN ? THEN 1 END")
    assert to_postgres("SELECT id FROM audit INDEXED BY audit_by_ts WHERE ts > ?") == (
        "SELECT id FROM audit  WHERE ts > %s"
    )
    with pytest.raises(ValueError, match="REPLACE_KEYS"):
        to_postgres("INSERT OR REPLACE INTO unknown_table (a) VALUES (?)")


def test_every_migration_has_a_postgresql_form() -> None:
    """A step appended later in plain SQLite is translated, or refused by name."""
    for number in range(1, len(MIGRATIONS) + 1):
        script = postgres_migration(number)
        assert "AUTOINCREMENT" not in script and " REAL" not in script.replace("DOUBLE", "")
        if number not in POSTGRES_FORMS:
            assert unportable(MIGRATIONS[number - 1]) is None
    assert "DOUBLE PRECISION" in schema_to_postgres("CREATE TABLE t (x REAL, n INTEGER)")
    assert unportable("CREATE VIRTUAL TABLE x USING fts5(a)") == "VIRTUAL TABLE"
