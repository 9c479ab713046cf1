"""Run leases: a started run belongs to the process that started it until its outcome is
recorded, so a later process can tell a run still going from one orphaned by a dead process.

Every `run_start` audit record is stamped with its writer's host and pid in `run_leases`
(`RunLeases.stamp` gives each connection a temporary trigger that knows its process, so no
writer has to remember it), and the record of its outcome deletes the lease (migration 8).
A lease whose process is gone is reaped (`engine.recovery`): its run gets a
`run_interrupted` record, exactly once. A lease whose process is alive — even suspended,
whatever its clock says — is never reaped, and a task step whose run still holds one is not
run again (`engine.tasks.runner`).

Approved requests' runs are reaped by `Recovery.interrupted_approvals`, which also knows the
request; its record releases the lease the same way.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from dataclasses import dataclass
from functools import partial

from engine.audit import AuditLog
from engine.liveness import owner_alive, process_token
from engine.storage.database import Database
from engine.storage.dialect import POSTGRESQL

LEASE_HEARTBEAT_SEC = 10.0
"""How often a process on a database shared across hosts renews its leases."""
LEASE_EXPIRY_SEC = 60.0
"""A lease of another host not renewed for this long belongs to a process that is gone."""


@dataclass(frozen=True)
class Lease:
    trace_id: str
    start_id: int
    owner_host: str
    owner_pid: int
    owner_started: str | None
    started_at: float
    tool: str | None
    task_id: str | None
    approval_id: str | None
    for_request: bool
    heartbeat_at: float | None = None

    @property
    def owner(self) -> str:
        return f"{self.owner_host} pid {self.owner_pid}"

    def owner_gone(self) -> bool:
        """True only when the owner is known to have ended: on this host its pid is not
        alive; on another (a shared PostgreSQL database) its heartbeat has expired."""
        if self.owner_host != socket.gethostname():
            beat = self.heartbeat_at
            return beat is not None and time.time() - beat > LEASE_EXPIRY_SEC
        return owner_alive(self.owner_pid, self.owner_started) is False


def _sql_text(value: str | None) -> str:
    """A literal for the trigger's text (it cannot take parameters)."""
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


_SELECT = (
    "SELECT l.trace_id, l.start_id, l.owner_host, l.owner_pid, l.owner_started, "
    "l.started_at, a.tool, "
    "a.task_id, a.approval_id, l.heartbeat_at, EXISTS (SELECT 1 FROM approval_requests r "
    "WHERE r.id = a.approval_id) AS for_request "
    "FROM run_leases l LEFT JOIN audit a ON a.id = l.start_id"
)


def _lease(row: sqlite3.Row) -> Lease:
    return Lease(
        trace_id=row["trace_id"],
        start_id=int(row["start_id"]),
        owner_host=row["owner_host"],
        owner_pid=int(row["owner_pid"]),
        owner_started=row["owner_started"],
        started_at=float(row["started_at"]),
        tool=row["tool"],
        task_id=row["task_id"],
        approval_id=row["approval_id"],
        for_request=bool(row["for_request"]),
        heartbeat_at=None if row["heartbeat_at"] is None else float(row["heartbeat_at"]),
    )


class RunLeases:
    """Reads leases and reaps the orphaned ones."""

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    async def stamp(self) -> None:
        """Make this connection record a lease for every `run_start` it writes (call once,
        at open)."""
        if self._db.dialect == POSTGRESQL:  # one trigger reads these (postgres_migrations)
            await self._db.set_session(
                {
                    "daena.lease_host": socket.gethostname(),
                    "daena.lease_pid": str(os.getpid()),
                    "daena.lease_started": process_token(os.getpid()) or "",
                }
            )
            return
        host = _sql_text(socket.gethostname())
        started = _sql_text(process_token(os.getpid()))
        await self._db.execute_local(
            "CREATE TEMP TRIGGER IF NOT EXISTS run_leases_stamp AFTER INSERT ON main.audit "
            "WHEN new.action = 'run_start' AND new.trace_id IS NOT NULL BEGIN "
            "INSERT OR REPLACE INTO run_leases (trace_id, start_id, owner_host, owner_pid, "
            "owner_started, started_at) VALUES "
            f"(new.trace_id, new.id, {host}, {os.getpid()}, {started}, new.ts); END"
        )

    async def holder(self, trace_id: str) -> Lease | None:
        """The lease of a run that may still be going (its owner alive or unknown); an
        orphan is reaped first, so None means the run has ended one way or another."""
        row = await self._db.fetchone(f"{_SELECT} WHERE l.trace_id = ?", (trace_id,))
        if row is None:
            return None
        lease = _lease(row)
        if lease.owner_gone() and not lease.for_request:
            from engine.recovery import reap_lease  # recovery builds on this module

            await self._db.write(partial(reap_lease, audit=self._audit, lease=lease))
            return None
        return lease

    async def heartbeat(self) -> int:
        """Renew this process's leases (databases shared across hosts); returns how many."""
        now = time.time()
        return await self._db.write(
            lambda stx: (
                stx.execute(
                    "UPDATE run_leases SET heartbeat_at = ? WHERE owner_host = ? AND owner_pid = ?",
                    (now, socket.gethostname(), os.getpid()),
                ).rowcount
            )
        )

    async def expired_elsewhere(self) -> list[Lease]:
        """Leases of other hosts' processes whose heartbeat expired (their owner is gone)."""
        rows = await self._db.fetchall(
            f"{_SELECT} WHERE l.owner_host <> ? AND l.heartbeat_at < ?",
            (socket.gethostname(), time.time() - LEASE_EXPIRY_SEC),
        )
        return [_lease(row) for row in rows]

    async def on_this_host(self) -> list[Lease]:
        """Every lease held by a process of this host (`engine.recovery` reaps the dead)."""
        rows = await self._db.fetchall(f"{_SELECT} WHERE l.owner_host = ?", (socket.gethostname(),))
        return [_lease(row) for row in rows]
