"""The facts a status line shows (pending approvals, lockdown, node health), read together.

The console's header refreshes on every event that can change them; reading them in one
hand-off to the database thread, instead of one per fact, keeps that cheap. The pending
count here is the one every front end shows (the header and the inbox's title), so they
cannot disagree; `next_expiry_sec` says when the count drops without any event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import clock
from engine.policy import CURRENT_DOC, ExecutionConfig
from engine.storage.database import Database

_parsed: dict[str, bool] = {}  # policy document -> lockdown (each version parsed once)


@dataclass(frozen=True)
class StatusFacts:
    pending: int = 0
    next_expiry_sec: float | None = None
    """Seconds until the soonest pending request expires (None: nothing pending)."""
    lockdown: bool = False
    lockdown_why: str = ""
    nodes_enabled: int = 0
    nodes_ok: int = 0

    @property
    def nodes(self) -> str:
        """`1/2 ok` over enabled nodes, or `none`."""
        return f"{self.nodes_ok}/{self.nodes_enabled} ok" if self.nodes_enabled else "none"


def _lockdown(doc: str | None) -> bool:
    if doc is None:
        return ExecutionConfig().lockdown
    if doc not in _parsed:
        if len(_parsed) > 16:
            _parsed.clear()
        _parsed[doc] = ExecutionConfig.model_validate_json(doc).lockdown
    return _parsed[doc]


async def read_facts(db: Database, at: clock.Instant, *, forced_lockdown: bool) -> StatusFacts:
    """Every fact in one read; `forced_lockdown` is the environment's switch (it wins)."""
    unexpired, params = clock.unexpired_sql(at)
    pending_where = f"FROM approval_requests WHERE status = 'pending' AND {unexpired}"

    def read(conn: Any) -> StatusFacts:
        count = conn.execute(f"SELECT COUNT(*) {pending_where}", params).fetchone()
        soonest = conn.execute(
            "SELECT created_at, expires_at, boot_id, created_boot "
            f"{pending_where} ORDER BY expires_at LIMIT 1",
            params,
        ).fetchone()
        doc = conn.execute(CURRENT_DOC).fetchone()
        nodes = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'ok' THEN 1 ELSE 0 END), 0) "
            "FROM nodes WHERE enabled = 1"
        ).fetchone()
        left = None
        if soonest is not None:
            left = max(
                0.0,
                clock.remaining(float(soonest[0]), float(soonest[1]), soonest[2], soonest[3], at),
            )
        locked = forced_lockdown or _lockdown(None if doc is None else str(doc[0]))
        return StatusFacts(
            pending=int(count[0]) if count else 0,
            next_expiry_sec=left,
            lockdown=locked,
            lockdown_why=("SECURITY_LOCKDOWN_MODE" if forced_lockdown else "config")
            if locked
            else "",
            nodes_enabled=int(nodes[0]),
            nodes_ok=int(nodes[1]),
        )

    return await db.read(read)
