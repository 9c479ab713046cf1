"""Faults on a real PostgreSQL server: stopped mid-run and restarted, a backend terminated
by the server, a serialisation failure. Nothing half-written, clear errors, reconnect."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import BaseModel

from engine import AuditEntry, Engine, StorageError
from engine.tools.registry import ToolRegistry
from engine.tools.spec import Risk, ToolContext, ToolSpec
from tests.conftest import make_settings
from tests.postgres.cluster import Cluster
from tests.support.backend import skip_unless_own_cluster

pytestmark = pytest.mark.no_postgres  # these tests stop their own server


class NoArgs(BaseModel):
    pass


@pytest.fixture(scope="module")
def own_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A server of this module's own, since its tests stop it."""
    skip_unless_own_cluster(request.config)
    cluster = Cluster(durable=True).start()  # fsync on: a crash keeps what was committed
    try:
        yield cluster
    finally:
        cluster.stop()


def stopping_registry(cluster: Cluster) -> ToolRegistry:
    async def stop_server(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
        await asyncio.to_thread(cluster.pg_ctl, "stop", "-m", "immediate")
        return {"stopped": True}

    registry = ToolRegistry.default()
    registry.register(
        ToolSpec("stop_server", "Stop the database server.", Risk.MEDIUM, NoArgs, stop_server)
    )
    return registry


@pytest.fixture
async def pg_eng(own_cluster: Cluster, workspace: Path, db_path: Path) -> AsyncIterator[Engine]:
    url = own_cluster.fresh_database()
    settings = make_settings(workspace, db_path, DAENA_DB_URL=url)
    async with Engine.open(settings, registry=stopping_registry(own_cluster)) as eng:
        yield eng


async def test_server_stopped_mid_run_then_restarted(
    own_cluster: Cluster, pg_eng: Engine, workspace: Path
) -> None:
    eng = pg_eng
    await eng.set_tool_enabled("filesystem_write", True)
    write = await eng.as_agent("bot").request(
        "filesystem_write", {"path": "later.txt", "content": "x"}, reason="after the fault"
    )
    request = await eng.as_agent("bot").request("stop_server", reason="fault")
    with pytest.raises(StorageError) as raised:
        await eng.approve(request.id)  # the run starts, stops the server, cannot record
    assert "password" not in raised.value.message
    # With the server down: a clear error, and a change is never made without its start
    # record committed.
    with pytest.raises(StorageError, match=r"cannot connect|failed|terminat"):
        await eng.approve(write.id)
    assert not (workspace / "later.txt").exists()
    own_cluster.pg_ctl("start")
    # The same engine reconnects by itself.
    ok = await eng.approve(write.id)
    assert ok.status == "ok" and (workspace / "later.txt").read_text() == "x"
    report = await eng.audit.verify()
    assert report.ok, report.problem
    rows = await eng.db.fetchall("SELECT action, tool, trace_id FROM audit ORDER BY id")
    stopped = [r for r in rows if r["tool"] == "stop_server"]
    # its start was committed before it ran; its outcome never was (nothing half-written:
    # the lease says the run may still be going, for a later process to reap)
    assert [r["action"] for r in stopped if r["action"].startswith("run")] == ["run_start"]
    leases = await eng.db.fetchall("SELECT trace_id FROM run_leases")
    assert [r["trace_id"] for r in leases] == [stopped[-1]["trace_id"]]


async def test_a_backend_terminated_by_the_server_is_reconnected(
    own_cluster: Cluster, pg_eng: Engine
) -> None:
    eng = pg_eng
    await eng.audit.record(AuditEntry(actor="op@test", action="note", status="ok"))
    with own_cluster.admin() as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (f"daena pid {os.getpid()}",),
        ).fetchall()
    assert killed and all(k[0] for k in killed)
    # a write finds its connection gone before anything was sent, reconnects, writes once
    await eng.audit.record(AuditEntry(actor="op@test", action="note", status="ok"))
    assert (await eng.audit.verify()).ok
    notes = await eng.db.fetchall("SELECT id FROM audit WHERE action = 'note'")
    assert len(notes) == 2  # written once, not lost, not doubled
    with own_cluster.admin() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (f"daena pid {os.getpid()}",),
        )
    assert len(await eng.audit.page()) == await eng.audit.count()  # a read reconnects too


async def test_a_serialisation_failure_is_retried_once_written_once(
    own_cluster: Cluster, pg_eng: Engine
) -> None:
    eng = pg_eng
    url = own_cluster.admin_url.rsplit("/", 1)[0] + "/" + await _dbname(eng)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE fault_calls")
        conn.execute(
            "CREATE FUNCTION fault_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF nextval('fault_calls') = 1 THEN RAISE EXCEPTION 'injected conflict' "
            "USING ERRCODE = 'serialization_failure'; END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER fault_once BEFORE INSERT ON audit FOR EACH ROW "
            "WHEN (NEW.action = 'fault-probe') EXECUTE FUNCTION fault_once()"
        )
    before = await eng.audit.last_id()
    new_id = await eng.audit.record(AuditEntry(actor="op@test", action="fault-probe", status="ok"))
    assert new_id == before + 1
    rows = await eng.db.fetchall("SELECT id FROM audit WHERE action = 'fault-probe'")
    assert [r["id"] for r in rows] == [new_id]  # the failed attempt left nothing
    calls = await eng.db.fetchone("SELECT last_value FROM fault_calls")
    assert calls is not None and calls[0] == 2  # failed once, then written
    assert (await eng.audit.verify()).ok


async def _dbname(eng: Engine) -> str:
    row = await eng.db.fetchone("SELECT current_database()")
    assert row is not None
    return str(row[0])
