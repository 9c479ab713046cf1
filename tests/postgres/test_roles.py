"""docs/deployment.md's roles, as written there: the owner migrates, the engine runs on data
rights only and cannot alter, drop or truncate what it writes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest

from engine import AuditEntry, Engine
from engine.events import EventBus
from engine.storage.postgres import PostgresDatabase
from tests.conftest import make_settings
from tests.postgres.cluster import Cluster, with_database

pytestmark = pytest.mark.no_postgres


def as_role(url: str, role: str) -> str:
    return url.replace("daena_admin@", f"{role}@", 1)


def test_the_engine_runs_on_data_rights_only(
    pg_cluster: Cluster, workspace: Path, db_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    owner, app, name = f"owner_{tag}", f"app_{tag}", f"roles_{tag}"
    with pg_cluster.admin() as admin:
        admin.execute(f"CREATE ROLE {owner} LOGIN")
        admin.execute(f"CREATE DATABASE {name} OWNER {owner}")
        admin.execute(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
        admin.execute(f"CREATE ROLE {app} LOGIN")
        admin.execute(f"GRANT CONNECT ON DATABASE {name} TO {app}")
    base = with_database(pg_cluster.admin_url, name)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(f"ALTER SCHEMA public OWNER TO {owner}")

    async def migrate() -> None:
        db = await PostgresDatabase.connect(as_role(base, owner), db_path, EventBus())
        await db.close()

    asyncio.run(migrate())
    with psycopg.connect(as_role(base, owner), autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {app}")
        conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}"
        )
        conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}")

    async def work() -> None:
        settings = make_settings(workspace, db_path, DAENA_DB_URL=as_role(base, app))
        async with Engine.open(settings, watch=True) as eng:
            await eng.set_tool_enabled("filesystem_write", True)
            request = await eng.as_agent("bot").request(
                "filesystem_write", {"path": "r.txt", "content": "x"}, reason="roles"
            )
            assert (await eng.approve(request.id)).status == "ok"
            await eng.audit.record(AuditEntry(actor="op@test", action="note", status="ok"))
            assert (await eng.audit.verify()).ok
            await eng.audit.prune(0.0, "op@test")
            await eng.audit.reindex()
            assert (await eng.audit.verify()).ok

    asyncio.run(work())
    with psycopg.connect(as_role(base, app), autocommit=True) as conn:
        for statement in (
            "DROP TABLE audit",
            "ALTER TABLE audit DISABLE TRIGGER ALL",
            "TRUNCATE audit",
            "CREATE TABLE intruder (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
