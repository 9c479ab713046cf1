"""MCP clients' sessions and the inbox requests their calls wait on (docs/mcp.md, "Waiting
for approval").

A call that needs approval waits for the operator's decision, which another process (the
console, `daena approve`) makes and runs: this process sees it only through the shared
database, so `wait_for_outcome` polls the request row and reads the run's audit record.
A client that cancels its call withdraws the request (only its own, only while pending,
audited); a client that goes away leaves it in the inbox marked orphaned, and approving it
still runs it exactly once (the approving process runs it; its result stays in the audit).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from engine.approvals import ApprovalRequest, Approvals
from engine.audit import AuditEntry, AuditLog
from engine.events import ApprovalDecided, Event
from engine.liveness import owner_alive, process_token
from engine.statuses import ApprovalStatus, RunStatus, WaitState
from engine.storage.database import Database

POLL_SEC = 0.2
TOUCH_EVERY_SEC = 2.0
HEARTBEAT_SEC = 5.0
"""How often `daena mcp serve` renews the heartbeat of its open sessions."""
EXPIRY_SEC = 30.0
"""A session of another host not renewed for this long belongs to a server that is gone
(six missed renewals: a slow database or some clock skew between hosts is not death)."""
EXPIRED = "expired, nothing ran"


@dataclass(frozen=True)
class McpClientGone(Event):
    """An MCP client went away; `orphaned` of its requests still wait in the inbox."""

    session_id: str
    orphaned: int


@dataclass(frozen=True)
class McpWait:
    session_id: str
    client: str
    """The client's own name from `initialize` (untrusted text)."""
    transport: str
    state: str


@dataclass(frozen=True)
class Outcome:
    """How a waited-for request ended: `ran` (with the run's status and result), `denied`,
    `expired`, `withdrawn` or `interrupted`."""

    kind: str
    request: ApprovalRequest
    run_status: str | None = None
    result: Any = None
    error: str | None = None


@dataclass(frozen=True)
class McpSession:
    id: str
    agent: str
    client: str
    transport: str
    pid: int | None
    started_at: float
    last_seen: float
    ended_at: float | None
    calls: int
    waiting: int = 0
    orphaned: int = 0
    """Its requests still in the inbox after it went away (approvable, run once)."""
    host: str | None = None
    process_token: str | None = None
    heartbeat_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class McpSessions:
    def __init__(self, db: Database, audit: AuditLog, approvals: Approvals) -> None:
        self._db = db
        self._audit = audit
        self._approvals = approvals
        self._unsaved: dict[str, int] = {}
        self._saved_at: dict[str, float] = {}

    async def open(self, agent: str, client: str, transport: str) -> str:
        session_id = "mcp-" + secrets.token_hex(6)
        now = time.time()
        pid = os.getpid()
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO mcp_sessions (id, agent, client, transport, pid, started_at,"
                " last_seen, host, process_token, heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    session_id,
                    agent,
                    client[:200],
                    transport,
                    pid,
                    now,
                    now,
                    socket.gethostname(),
                    process_token(pid),
                    now,
                ),
            )
        return session_id

    async def heartbeat(self) -> int:
        """Renew the heartbeat of this process's open sessions; how many. A process on
        another host cannot ask after our pid: an expired heartbeat is how it knows we died."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE mcp_sessions SET heartbeat_at = ?"
                " WHERE ended_at IS NULL AND host = ? AND pid = ?",
                (time.time(), socket.gethostname(), os.getpid()),
            )
            return int(cursor.rowcount)

    async def reap(self) -> int:
        """End the sessions of a `daena mcp serve` that died without ending them (SIGKILL,
        a crash, its machine gone): their waits become orphaned, as if the client had gone.
        On this host a session's process is asked (pid and start token); on another host
        (a database shared across hosts) its heartbeat decides: not renewed for EXPIRY_SEC,
        it is dead. A session with neither answer (no heartbeat recorded) is left alone.
        How many ended."""
        here = socket.gethostname()
        stale = time.time() - EXPIRY_SEC
        rows = await self._db.fetchall(
            "SELECT id, pid, host, process_token, heartbeat_at FROM mcp_sessions"
            " WHERE ended_at IS NULL AND (host = ? OR heartbeat_at < ?)",
            (here, stale),
        )
        gone = [str(r["id"]) for r in rows if _dead(r, here, stale)]
        for session_id in gone:
            await self.close(session_id)
        return len(gone)

    async def touch(self, session_id: str) -> None:
        """Count a call. Stored at most every TOUCH_EVERY_SEC seconds (and when the session
        ends): a write per call would cost more than the call (a committed transaction)."""
        self._unsaved[session_id] = self._unsaved.get(session_id, 0) + 1
        now = time.monotonic()
        if now - self._saved_at.get(session_id, 0.0) >= TOUCH_EVERY_SEC:
            await self._save(session_id)

    async def _save(self, session_id: str) -> None:
        calls = self._unsaved.pop(session_id, 0)
        self._saved_at[session_id] = time.monotonic()
        if not calls:
            return
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE mcp_sessions SET calls = calls + ?, last_seen = ? WHERE id = ?",
                (calls, time.time(), session_id),
            )

    async def close(self, session_id: str) -> None:
        """The client went away: its requests still waiting are orphaned."""
        await self._save(session_id)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE mcp_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                (time.time(), session_id),
            )
            cursor = await tx.execute(
                "UPDATE mcp_waits SET state = 'orphaned'"
                " WHERE session_id = ? AND state = 'waiting'",
                (session_id,),
            )
            if cursor.rowcount:
                await tx.emit(McpClientGone(session_id, cursor.rowcount))

    async def orphan(self, request_id: str, session_id: str) -> None:
        """One call's connection dropped while its session lives on (streamable HTTP): that
        call's answer can no longer reach the client, so its wait is orphaned as if the
        client had gone; the request stays in the inbox, approvable and run once."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE mcp_waits SET state = 'orphaned'"
                " WHERE request_id = ? AND state = 'waiting'",
                (request_id,),
            )
            if cursor.rowcount:
                await tx.emit(McpClientGone(session_id, cursor.rowcount))

    async def list(self, *, live_only: bool = False) -> list[McpSession]:
        await self.reap()
        where = " WHERE s.ended_at IS NULL" if live_only else ""
        rows = await self._db.fetchall(
            "SELECT s.*, (SELECT COUNT(*) FROM mcp_waits w WHERE w.session_id = s.id"
            " AND w.state = 'waiting') AS waiting, (SELECT COUNT(*) FROM mcp_waits w"
            " JOIN approval_requests r ON r.id = w.request_id WHERE w.session_id = s.id"
            " AND w.state = 'orphaned' AND r.status = 'pending') AS orphaned"
            f" FROM mcp_sessions s{where} ORDER BY s.started_at DESC LIMIT 200"
        )
        return [McpSession(**dict(r)) for r in rows]

    async def waits(self) -> dict[str, McpWait]:
        """Pending requests an MCP client's call waits (or waited) on: which client, which
        session, and whether it is still there (`waiting`) or went away (`orphaned`)."""
        await self.reap()
        rows = await self._db.fetchall(
            "SELECT w.request_id, w.session_id, w.state, s.client, s.transport"
            " FROM mcp_waits w JOIN approval_requests r ON r.id = w.request_id"
            " JOIN mcp_sessions s ON s.id = w.session_id"
            " WHERE w.state IN ('waiting', 'orphaned') AND r.status = 'pending'"
        )
        return {
            str(r["request_id"]): McpWait(r["session_id"], r["client"], r["transport"], r["state"])
            for r in rows
        }

    async def orphaned(self) -> set[str]:
        """The requests whose MCP client went away while they waited (the inbox marks them;
        approving one still runs it once, its result kept in the audit log)."""
        await self.reap()
        rows = await self._db.fetchall(
            "SELECT w.request_id FROM mcp_waits w JOIN approval_requests r"
            " ON r.id = w.request_id WHERE w.state = 'orphaned' AND r.status = 'pending'"
        )
        return {str(r["request_id"]) for r in rows}

    async def wait_state(self, request_id: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT state FROM mcp_waits WHERE request_id = ?", (request_id,)
        )
        return None if row is None else str(row["state"])

    async def _set_wait(self, request_id: str, session_id: str, state: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO mcp_waits (request_id, session_id, state) VALUES (?,?,?)"
                " ON CONFLICT(request_id) DO UPDATE SET state = excluded.state",
                (request_id, session_id, state),
            )

    async def wait_for_outcome(
        self,
        request_id: str,
        session_id: str,
        progress: Callable[[ApprovalRequest], Awaitable[None]],
        *,
        progress_every: float = 1.0,
        gone: Callable[[], bool] = lambda: False,
    ) -> Outcome | None:
        """Wait until the request is decided and (if approved) has run, or has expired;
        `progress` is called about every `progress_every` seconds meanwhile. None when
        `gone()` says the call's connection dropped first: the wait is then orphaned."""
        await self._set_wait(request_id, session_id, WaitState.WAITING)
        clock = self._approvals.clock  # the engine's: a test's ManualClock moves the wait
        last_progress = 0.0
        while True:
            request = await self._approvals.get(request_id)
            outcome = await self._outcome(request)
            if outcome is not None:
                await self._set_wait(request_id, session_id, WaitState.DONE)
                return outcome
            if gone():
                await self.orphan(request_id, session_id)
                return None
            now = clock.monotonic()
            if now - last_progress >= progress_every:
                last_progress = now
                await progress(request)
            await clock.sleep(POLL_SEC)

    async def _outcome(self, request: ApprovalRequest) -> Outcome | None:
        if request.status == ApprovalStatus.PENDING:
            if self._approvals.is_pending(request):
                return None
            return Outcome("expired", request, error=EXPIRED)
        if request.status == ApprovalStatus.EXPIRED:
            return Outcome("expired", request, error=EXPIRED)
        if request.status == ApprovalStatus.DENIED:
            if request.decided_by == request.requester:
                return Outcome("withdrawn", request, error="withdrawn, nothing ran")
            return Outcome("denied", request, error=request.decision_reason or "denied")
        if request.run_status is None:
            return None  # approved; the approving process is running it
        if request.run_status == RunStatus.INTERRUPTED or request.run_audit_id is None:
            return Outcome("interrupted", request, error="the approved run was interrupted")
        record = await self._audit.get(request.run_audit_id)
        summary = record.result_summary if record else None
        try:
            result = json.loads(summary) if summary else None
        except ValueError:
            result = {"summary": summary}
        return Outcome(
            "ran",
            request,
            run_status=request.run_status,
            result=result,
            error=record.error if record else None,
        )

    async def withdraw(self, request_id: str, requester: str, why: str) -> bool:
        """The requester takes its own pending request back: it becomes `denied` by the
        requester, so nothing can approve it any more. A denial runs nothing, so this is the
        one decision an agent identity may make, and only on its own request."""
        now = self._approvals.clock.time()  # decided_at on the clock every decision uses
        reason = f"withdrawn by {requester}: {why}"
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE approval_requests SET status = 'denied', decided_by = ?, decided_at = ?,"
                " decision_reason = ? WHERE id = ? AND requester = ? AND status = 'pending'",
                (requester, now, reason, request_id, requester),
            )
            if cursor.rowcount != 1:
                return False
            row = await tx.fetchone(
                "SELECT tool, args, trace_id FROM approval_requests WHERE id = ?", (request_id,)
            )
            assert row is not None
            await self._audit.append(
                tx,
                AuditEntry(
                    actor=requester,
                    action="approval_withdrawn",
                    tool=row["tool"],
                    args=json.loads(row["args"]),
                    status="withdrawn",
                    result_summary=reason,
                    approval_id=request_id,
                    trace_id=row["trace_id"],
                ),
            )
            await tx.execute(
                "UPDATE mcp_waits SET state = 'withdrawn' WHERE request_id = ?", (request_id,)
            )
            await tx.emit(ApprovalDecided(request_id, row["tool"], "denied", requester))
        return True


def _dead(row: Any, here: str, stale: float) -> bool:
    """Whether a session's server is known to be gone (see `McpSessions.reap`)."""
    beat = row["heartbeat_at"]
    expired = beat is not None and float(beat) < stale
    if row["host"] != here or row["pid"] is None:
        return expired
    if int(row["pid"]) == os.getpid():
        return False
    alive = owner_alive(int(row["pid"]), row["process_token"])
    return alive is False or (alive is None and expired)
