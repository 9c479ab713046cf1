"""The orphaned-run reaper across hosts: another host's run lease is reaped once its
heartbeat has expired, never while it is renewed, never when it has none."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine import AuditEntry, Engine
from engine.leases import LEASE_EXPIRY_SEC
from tests.conftest import make_settings
from tests.postgres.cluster import Cluster

pytestmark = pytest.mark.no_postgres


async def started_run(eng: Engine, trace: str) -> None:
    """A run_start as a process records it (the stamp trigger writes this process's lease)."""
    await eng.audit.record(
        AuditEntry(
            actor="agent:x",
            action="run_start",
            status="started",
            tool="filesystem_write",
            trace_id=trace,
        )
    )


async def test_a_dead_hosts_lease_is_reaped_once_a_live_ones_never(
    pg_cluster: Cluster, workspace: Path, db_path: Path
) -> None:
    url = pg_cluster.fresh_database()
    settings = make_settings(workspace, db_path, DAENA_DB_URL=url)
    now = time.time()
    async with Engine.open(settings) as eng:
        for trace in ("dead", "renewed", "unknown"):
            await started_run(eng, trace)
        leases = await eng.db.fetchall(
            "SELECT trace_id, heartbeat_at FROM run_leases ORDER BY trace_id"
        )
        assert [r["trace_id"] for r in leases] == ["dead", "renewed", "unknown"]
        assert all(r["heartbeat_at"] is not None for r in leases)  # stamped with one
        # Move them to other hosts: one silent for longer than the expiry, one renewed
        # just now, one with no heartbeat (a writer that never renews: never reaped).
        for trace, host, beat in (
            ("dead", "host-gone", now - LEASE_EXPIRY_SEC - 5),
            ("renewed", "host-alive", now),
            ("unknown", "host-old", None),
        ):
            await eng.db._conn.execute(  # type: ignore[attr-defined]
                "UPDATE run_leases SET owner_host = ?, owner_pid = 4242, heartbeat_at = ? "
                "WHERE trace_id = ?",
                (host, beat, trace),
            )
        assert await eng.leases.heartbeat() == 0  # this process holds none of them now
    async with Engine.open(settings) as eng:  # opening reaps the orphans it can see
        rows = await eng.db.fetchall(
            "SELECT action, trace_id, error FROM audit WHERE action = 'run_interrupted'"
        )
        assert [r["trace_id"] for r in rows] == ["dead"]
        assert "host-gone pid 4242" in rows[0]["error"]
        left = await eng.db.fetchall("SELECT trace_id FROM run_leases ORDER BY trace_id")
        assert [r["trace_id"] for r in left] == ["renewed", "unknown"]
        assert (await eng.leases.holder("renewed")) is not None
        assert (await eng.audit.verify()).ok
    async with Engine.open(settings) as eng:  # reaped exactly once
        rows = await eng.db.fetchall("SELECT trace_id FROM audit WHERE action = 'run_interrupted'")
        assert [r["trace_id"] for r in rows] == ["dead"]


async def test_a_process_renews_its_own_leases(
    pg_cluster: Cluster, workspace: Path, db_path: Path
) -> None:
    url = pg_cluster.fresh_database()
    async with Engine.open(make_settings(workspace, db_path, DAENA_DB_URL=url)) as eng:
        await started_run(eng, "mine")
        await eng.db._conn.execute("UPDATE run_leases SET heartbeat_at = 1.0")  # type: ignore[attr-defined]
        assert await eng.leases.heartbeat() == 1
        row = await eng.db.fetchone("SELECT heartbeat_at FROM run_leases")
        assert row is not None and row[0] > 1.0
