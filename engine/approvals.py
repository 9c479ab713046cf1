"""Grants and approval requests (docs/architecture.md, "Flow (a)"; docs/security.md, promises
5 and 6).

A grant is a short-lived permission to run one tool, bound to the exact canonical arguments
unless explicitly minted tool-scoped; it is consumed by a single conditional UPDATE, so two
concurrent runs can never both use it. An approval request is a stored run waiting for an
operator; it is decided exactly once by a conditional UPDATE, and expired requests fail
closed whether or not the sweep has marked them yet. Expiry is measured by engine/clock.py:
on the boot clock within one boot, so a stepped wall clock neither revives nor expires
anything, and no decision is made while the wall clock reads before the creation.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import socket
import sqlite3
from dataclasses import dataclass
from functools import partial
from typing import Any

from engine import clock
from engine.audit import AuditEntry, AuditLog
from engine.errors import (
    ApprovalError,
    InputError,
    NotFoundError,
    PolicyError,
    SelfDecisionError,
)
from engine.events import ApprovalDecided, ApprovalExtended, ApprovalRequested, GrantIssued
from engine.statuses import ApprovalStatus, RunStatus
from engine.storage.database import Database, SyncTransaction, Transaction, dumps

GRANT_TTL_SEC = 300.0
REQUEST_TTL_SEC = 30 * 60.0
MAX_EXTENSION_SEC = 3600.0
"""The most one extension adds."""
MAX_REQUEST_LIFETIME_SEC = 4 * 3600.0
"""No request waits longer than this from its creation, however often it is extended: a
request nobody decides expires, and what it asked for never runs."""
EXPIRY_BATCH = 20
"""Expired requests marked per transaction (each with its audit record): a short write."""
AGENT_PREFIX = "agent:"
"""Identities of agent credentials (`engine.credentials`): they may ask, never decide."""


def is_agent_identity(name: str) -> bool:
    return name.startswith(AGENT_PREFIX)


def decider_refusal(request: ApprovalRequest, decision: str, operator: str) -> str | None:
    """Why `operator` may not make this decision, or None (no self-approval: docs/security.md,
    promise 5).

    An agent's identity never decides anything; nobody approves their own request. A
    non-agent requester may deny (withdraw) its own request: a denial runs nothing."""
    if is_agent_identity(operator):
        return (
            f"operator: {operator} is an agent credential and cannot decide request "
            f"{request.id}; approvals are made by an operator"
        )
    if decision == ApprovalStatus.APPROVED and request.requester == operator:
        return f"operator: {operator} made request {request.id} and cannot decide it"
    return None


def clock_set_back(field: str, what: str, seconds: float) -> str:
    return (
        f"{field}: this machine's clock reads {seconds:.0f} s before {what} was made: it was "
        "set back, so its expiry cannot be trusted; correct the clock and try again"
    )


def args_hash(tool: str, args: dict[str, Any]) -> str:
    """sha256 of canonical JSON of tool name, arguments and node."""
    payload = {"tool": tool, "args": args, "node": args.get("node")}
    return hashlib.sha256(dumps(payload).encode("utf-8")).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(12)}"


@dataclass(frozen=True)
class Grant:
    id: str
    tool: str
    args_hash: str | None
    created_at: float
    expires_at: float
    created_by: str
    used_at: float | None
    boot_id: str | None = None
    created_boot: float | None = None

    @property
    def tool_scoped(self) -> bool:
        return self.args_hash is None


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    tool: str
    args: dict[str, Any]
    args_hash: str
    requester: str
    reason: str
    task_id: str | None
    created_at: float
    expires_at: float
    status: str
    decided_by: str | None
    decided_at: float | None
    decision_reason: str | None
    run_status: str | None
    run_audit_id: int | None
    trace_id: str | None
    run_owner_host: str | None = None
    run_owner_pid: int | None = None
    boot_id: str | None = None
    created_boot: float | None = None

    def seconds_left(self, now: float | clock.Instant | None = None) -> float:
        """Seconds before expiry: by the engine's clock rule (engine/clock.py) at `now` (an
        engine clock's reading; None: the system clock), or, for a display given its own
        wall time, by that wall time."""
        if now is None:
            at = clock.now()
        else:
            at = now if isinstance(now, clock.Instant) else clock.Instant(now)
        left = clock.remaining(
            self.created_at, self.expires_at, self.boot_id, self.created_boot, at
        )
        return max(0.0, left)

    def pending_at(self, at: clock.Instant) -> bool:
        """Still waiting for a decision at `at` (not decided, not expired)."""
        return self.status == ApprovalStatus.PENDING and self.seconds_left(at) > 0

    @property
    def is_pending(self) -> bool:
        """`pending_at` on the system clock (front ends; the engine asks `Approvals`)."""
        return self.pending_at(clock.now())

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ApprovalRequest:
        data = dict(row)
        data["args"] = json.loads(data["args"])
        return cls(**data)


class Approvals:
    """Store for grants and approval requests."""

    def __init__(self, db: Database, audit: AuditLog, at: clock.Clock = clock.SYSTEM) -> None:
        self._db = db
        self._audit = audit
        self.clock = at

    def is_pending(self, request: ApprovalRequest) -> bool:
        """`request` still waits for a decision by this engine's clock."""
        return request.pending_at(self.clock.now())

    # -- grants ---------------------------------------------------------------------------

    async def issue_grant(
        self,
        tool: str,
        canonical_args: dict[str, Any] | None,
        operator: str,
        *,
        ttl_sec: float = GRANT_TTL_SEC,
    ) -> Grant:
        """Mint a grant; `canonical_args=None` means tool-scoped (explicit only)."""
        if not math.isfinite(ttl_sec) or ttl_sec <= 0 or ttl_sec > 24 * 3600:
            raise InputError("ttl_sec: must be between 0 and 86400 seconds")
        if is_agent_identity(operator):
            raise PolicyError(f"operator: {operator} is an agent credential and cannot mint grants")
        at = self.clock.now()
        grant = Grant(
            id=new_id("grant"),
            tool=tool,
            args_hash=None if canonical_args is None else args_hash(tool, canonical_args),
            created_at=at.wall,
            expires_at=at.wall + ttl_sec,
            created_by=operator,
            used_at=None,
            boot_id=at.boot_id,
            created_boot=at.boot,
        )
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO grants (id, tool, args_hash, created_at, expires_at, created_by, "
                "boot_id, created_boot) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    grant.id,
                    tool,
                    grant.args_hash,
                    at.wall,
                    grant.expires_at,
                    operator,
                    at.boot_id,
                    at.boot,
                ),
            )
            await self._audit.append(
                tx,
                AuditEntry(
                    actor=operator,
                    action="grant",
                    tool=tool,
                    status=RunStatus.OK,
                    args=canonical_args if canonical_args is not None else {"scope": "tool"},
                    approval_id=grant.id,
                    result_summary=f"expires in {int(ttl_sec)} s",
                ),
            )
            await tx.emit(GrantIssued(grant.id, tool, operator))
        return grant

    def consume_grant(
        self,
        stx: SyncTransaction,
        grant_id: str,
        tool: str,
        canonical_args: dict[str, Any],
        trace_id: str,
    ) -> None:
        """Use a grant exactly once, inside the run's start transaction, or raise why not."""
        at = self.clock.now()
        digest = args_hash(tool, canonical_args)
        unexpired, unexpired_params = clock.unexpired_sql(at)
        cursor = stx.execute(
            "UPDATE grants SET used_at = ?, used_trace_id = ? WHERE id = ? AND used_at IS NULL "
            f"AND {unexpired} AND created_at <= ? AND tool = ? "
            "AND (args_hash IS NULL OR args_hash = ?)",
            (at.wall, trace_id, grant_id, *unexpired_params, at.wall, tool, digest),
        )
        if cursor.rowcount == 1:
            return
        row = stx.fetchone("SELECT * FROM grants WHERE id = ?", (grant_id,))
        if row is None:
            raise ApprovalError(f"approval_id: no grant {grant_id!r}")
        if row["used_at"] is not None:
            raise ApprovalError(f"approval_id: grant {grant_id} was already used")
        left = clock.remaining(
            row["created_at"], row["expires_at"], row["boot_id"], row["created_boot"], at
        )
        if left <= 0:
            raise ApprovalError(f"approval_id: grant {grant_id} has expired")
        back = clock.set_back_by(row["created_at"], at)
        if back is not None:
            raise ApprovalError(clock_set_back("approval_id", f"grant {grant_id}", back))
        if row["tool"] != tool:
            raise ApprovalError(
                f"approval_id: grant {grant_id} is for tool {row['tool']!r}, not {tool!r}"
            )
        raise ApprovalError(f"approval_id: grant {grant_id} was given for other arguments")

    # -- requests -------------------------------------------------------------------------

    async def create_request(
        self,
        tx: Transaction,
        *,
        tool: str,
        canonical_args: dict[str, Any],
        requester: str,
        reason: str,
        task_id: str | None,
        trace_id: str,
        ttl_sec: float = REQUEST_TTL_SEC,
    ) -> ApprovalRequest:
        at = self.clock.now()
        now = at.wall
        request = ApprovalRequest(
            id=new_id("req"),
            tool=tool,
            args=canonical_args,
            args_hash=args_hash(tool, canonical_args),
            requester=requester,
            reason=reason,
            task_id=task_id,
            created_at=now,
            expires_at=now + ttl_sec,
            status=ApprovalStatus.PENDING,
            decided_by=None,
            decided_at=None,
            decision_reason=None,
            run_status=None,
            run_audit_id=None,
            trace_id=trace_id,
            boot_id=at.boot_id,
            created_boot=at.boot,
        )
        await tx.execute(
            "INSERT INTO approval_requests (id, tool, args, args_hash, requester, reason, task_id,"
            " created_at, expires_at, status, trace_id, boot_id, created_boot) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                request.id,
                tool,
                dumps(canonical_args),
                request.args_hash,
                requester,
                reason,
                task_id,
                now,
                request.expires_at,
                ApprovalStatus.PENDING,
                trace_id,
                at.boot_id,
                at.boot,
            ),
        )
        await tx.emit(ApprovalRequested(request.id, tool, requester, request.expires_at))
        return request

    async def get(self, request_id: str) -> ApprovalRequest:
        row = await self._db.fetchone("SELECT * FROM approval_requests WHERE id = ?", (request_id,))
        if row is None:
            raise NotFoundError(f"id: no approval request {request_id!r}")
        return ApprovalRequest.from_row(row)

    async def list(
        self,
        status: str | None = ApprovalStatus.PENDING,
        limit: int = 500,
        *,
        requester: str | None = None,
    ) -> list[ApprovalRequest]:
        """Pending requests soonest-expiring first; other statuses newest first. With
        `requester`, only the requests that requester made (an agent reading its own)."""
        mine = "" if requester is None else " AND requester = ?"
        who: tuple[str, ...] = () if requester is None else (requester,)
        if status == ApprovalStatus.PENDING:
            unexpired, params = clock.unexpired_sql(self.clock.now())
            rows = await self._db.fetchall(
                f"SELECT * FROM approval_requests WHERE status = 'pending' AND {unexpired}"
                f"{mine} ORDER BY expires_at LIMIT ?",
                (*params, *who, limit),
            )
        elif status:
            rows = await self._db.fetchall(
                f"SELECT * FROM approval_requests WHERE status = ?{mine} "
                "ORDER BY created_at DESC LIMIT ?",
                (status, *who, limit),
            )
        else:
            rows = await self._db.fetchall(
                f"SELECT * FROM approval_requests WHERE 1 = 1{mine} "
                "ORDER BY created_at DESC LIMIT ?",
                (*who, limit),
            )
        return [ApprovalRequest.from_row(r) for r in rows]

    async def count(
        self, status: str | None = ApprovalStatus.PENDING, *, requester: str | None = None
    ) -> int:
        """How many requests `list(status)` would return without its limit (a list that
        stops at its limit says so: "500 of 9,993")."""
        mine = "" if requester is None else " AND requester = ?"
        who: tuple[str, ...] = () if requester is None else (requester,)
        if status == ApprovalStatus.PENDING:
            unexpired, params = clock.unexpired_sql(self.clock.now())
            sql = f"status = 'pending' AND {unexpired}{mine}"
            row = await self._db.fetchone(
                f"SELECT COUNT(*) FROM approval_requests WHERE {sql}", (*params, *who)
            )
        elif status:
            row = await self._db.fetchone(
                f"SELECT COUNT(*) FROM approval_requests WHERE status = ?{mine}", (status, *who)
            )
        else:
            row = await self._db.fetchone(
                f"SELECT COUNT(*) FROM approval_requests WHERE 1 = 1{mine}", who
            )
        return int(row[0]) if row else 0

    async def pending_count(self) -> int:
        unexpired, params = clock.unexpired_sql(self.clock.now())
        row = await self._db.fetchone(
            f"SELECT COUNT(*) FROM approval_requests WHERE status = 'pending' AND {unexpired}",
            params,
        )
        return int(row[0]) if row else 0

    async def decide(
        self, tx: Transaction, request_id: str, decision: str, operator: str, reason: str
    ) -> ApprovalRequest:
        """Move a pending, unexpired request to `approved` or `denied` exactly once."""
        at = self.clock.now()
        now = at.wall
        row = await tx.fetchone("SELECT * FROM approval_requests WHERE id = ?", (request_id,))
        if row is None:
            raise NotFoundError(f"id: no approval request {request_id!r}")
        request = ApprovalRequest.from_row(row)
        refusal = decider_refusal(request, decision, operator)
        if refusal is not None:
            raise SelfDecisionError(refusal)  # `refuse_decider` audits it before we get here
        back = clock.set_back_by(request.created_at, at)
        if back is not None and request.status == ApprovalStatus.PENDING:
            raise ApprovalError(clock_set_back("id", f"request {request_id}", back))
        # The approving process runs the request: it is recorded as the run's owner.
        owner = (
            (socket.gethostname(), os.getpid())
            if decision == ApprovalStatus.APPROVED
            else (None, None)
        )
        unexpired, unexpired_params = clock.unexpired_sql(at)
        cursor = await tx.execute(
            "UPDATE approval_requests SET status = ?, decided_by = ?, decided_at = ?, "
            "decision_reason = ?, run_owner_host = ?, run_owner_pid = ? "
            f"WHERE id = ? AND status = 'pending' AND {unexpired} AND created_at <= ?",
            (decision, operator, now, reason, *owner, request_id, *unexpired_params, now),
        )
        if cursor.rowcount != 1:
            if request.status != ApprovalStatus.PENDING:
                raise ApprovalError(f"id: request {request_id} was already {request.status}")
            raise ApprovalError(
                f"id: request {request_id} has expired; it can no longer be decided"
            )
        await self._audit.append(
            tx,
            AuditEntry(
                actor=operator,
                action=f"approval_{decision}",
                tool=request.tool,
                status=decision,
                args=request.args,
                result_summary=reason or None,
                approval_id=request_id,
                trace_id=request.trace_id,
                task_id=request.task_id,
            ),
        )
        await tx.emit(ApprovalDecided(request_id, request.tool, decision, operator))
        return await self._reload(tx, request_id)

    async def extend(
        self, tx: Transaction, request_id: str, seconds: float, operator: str
    ) -> ApprovalRequest:
        """Give a pending, unexpired request `seconds` more before it expires (audited).

        Only an operator may: an agent keeping its own request alive would wear the
        operator down. One extension adds at most MAX_EXTENSION_SEC, and no request lives
        longer than MAX_REQUEST_LIFETIME_SEC from its creation."""
        if not 1 <= seconds <= MAX_EXTENSION_SEC:
            raise InputError(f"by: an extension must be between 1 s and {MAX_EXTENSION_SEC:.0f} s")
        if is_agent_identity(operator):
            raise SelfDecisionError(f"operator: {operator} is an agent; agents cannot extend")
        row = await tx.fetchone("SELECT * FROM approval_requests WHERE id = ?", (request_id,))
        if row is None:
            raise NotFoundError(f"id: no approval request {request_id!r}")
        request = ApprovalRequest.from_row(row)
        lifetime = request.expires_at - request.created_at + seconds
        if lifetime > MAX_REQUEST_LIFETIME_SEC:
            room = max(0.0, MAX_REQUEST_LIFETIME_SEC - (request.expires_at - request.created_at))
            raise PolicyError(
                f"by: request {request_id} may live at most {MAX_REQUEST_LIFETIME_SEC / 3600:.0f} h"
                f" from its creation; it can be extended by {room:.0f} s more at most"
            )
        at = self.clock.now()
        unexpired, unexpired_params = clock.unexpired_sql(at)
        cursor = await tx.execute(
            "UPDATE approval_requests SET expires_at = expires_at + ? "
            f"WHERE id = ? AND status = 'pending' AND {unexpired}",
            (seconds, request_id, *unexpired_params),
        )
        if cursor.rowcount != 1:
            if request.status != ApprovalStatus.PENDING:
                raise ApprovalError(f"id: request {request_id} was already {request.status}")
            raise ApprovalError(f"id: request {request_id} has expired; it cannot be extended")
        extended = await self._reload(tx, request_id)
        await self._audit.append(
            tx,
            AuditEntry(
                actor=operator,
                action="approval_extended",
                tool=request.tool,
                status="ok",
                args={"by_sec": seconds, "expires_at": extended.expires_at},
                approval_id=request_id,
                trace_id=request.trace_id,
                task_id=request.task_id,
            ),
        )
        await tx.emit(ApprovalExtended(request_id, request.tool, extended.expires_at, operator))
        return extended

    async def refuse_decider(self, request_id: str, decision: str, operator: str) -> None:
        """Raise (and audit, in a transaction of its own) when `operator` may not make this
        decision: an agent deciding, or a requester approving its own request."""
        request = await self.get(request_id)
        refusal = decider_refusal(request, decision, operator)
        if refusal is None:
            return
        await self._audit.record(
            AuditEntry(
                actor=operator,
                action=f"approval_{decision}",
                tool=request.tool,
                status=RunStatus.REFUSED,
                error=refusal,
                approval_id=request_id,
                trace_id=request.trace_id,
                task_id=request.task_id,
            )
        )
        raise SelfDecisionError(refusal)

    @staticmethod
    def record_run(stx: SyncTransaction, request_id: str, run_status: str, audit_id: int) -> None:
        """Link an approved request to the run it caused (inside the run's write)."""
        stx.execute(
            "UPDATE approval_requests SET run_status = ?, run_audit_id = ? WHERE id = ?",
            (run_status, audit_id, request_id),
        )

    async def sweep_expired(self, batch: int = EXPIRY_BATCH) -> int:
        """Mark every pending request past its expiry as expired (audited), `batch` per
        transaction so no write holds the lock for long; returns how many."""
        total = 0
        while True:
            marked, seen = await self._db.write(partial(self.expire_batch, limit=batch))
            total += marked
            if seen < batch:
                return total

    async def expire_if_due(self, request_id: str) -> bool:
        """Mark one request expired (audited) if it is pending and past its expiry: whoever
        first finds a request expired records it, whether or not a sweep got there."""
        marked, _ = await self._db.write(partial(self.expire_batch, limit=1, only=request_id))
        return marked == 1

    def expire_batch(
        self, stx: SyncTransaction, limit: int, only: str | None = None
    ) -> tuple[int, int]:
        """Inside a write: mark up to `limit` expired pending requests (each with its audit
        record and event, claimed by a conditional UPDATE, so exactly once across
        processes). Returns (marked, expired rows seen)."""
        at = self.clock.now()
        unexpired, params = clock.unexpired_sql(at)
        one = "" if only is None else " AND id = ?"
        rows = stx.conn.execute(
            f"SELECT * FROM approval_requests WHERE status = 'pending' AND NOT {unexpired}"
            f"{one} ORDER BY expires_at LIMIT ?",
            (*params, *(() if only is None else (only,)), limit),
        ).fetchall()
        marked = 0
        for request in map(ApprovalRequest.from_row, rows):
            claimed = stx.execute(
                "UPDATE approval_requests SET status = 'expired', decided_at = ?, "
                "decided_by = 'system', decision_reason = 'expired' "
                "WHERE id = ? AND status = 'pending'",
                (at.wall, request.id),
            )
            if claimed.rowcount != 1:
                continue
            self._audit.append_sync(
                stx,
                AuditEntry(
                    actor="system",
                    action="approval_expired",
                    tool=request.tool,
                    status=ApprovalStatus.EXPIRED,
                    approval_id=request.id,
                    trace_id=request.trace_id,
                    task_id=request.task_id,
                ),
            )
            stx.emit(ApprovalDecided(request.id, request.tool, ApprovalStatus.EXPIRED, "system"))
            marked += 1
        return marked, len(rows)

    async def _reload(self, tx: Transaction, request_id: str) -> ApprovalRequest:
        row = await tx.fetchone("SELECT * FROM approval_requests WHERE id = ?", (request_id,))
        assert row is not None
        return ApprovalRequest.from_row(row)
