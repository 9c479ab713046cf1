"""What the header shows at a glance: pending approvals, lockdown and node status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import engine

STATUS_SAFETY_SEC = 60.0
"""The header re-reads at least this often (its facts change by events, or by a request
expiring, which `next_refresh_sec` schedules): only a safety net, so an idle console sleeps."""


@dataclass(frozen=True)
class ConsoleStatus:
    ready: bool = False
    pending: int = 0
    lockdown: bool = False
    lockdown_why: str = ""
    nodes: str = "n/a"
    next_expiry_sec: float | None = None

    @property
    def next_refresh_sec(self) -> float:
        """When to read again without an event: just after the soonest request expires."""
        if self.next_expiry_sec is None:
            return STATUS_SAFETY_SEC
        return min(STATUS_SAFETY_SEC, self.next_expiry_sec + 0.05)


async def read_status(eng: engine.Engine) -> ConsoleStatus:
    """One snapshot of the header's facts, in one read (engine/status.py). Imported here:
    the header draws `ConsoleStatus()` in the first frame, before the engine is loaded."""
    from engine.status import read_facts

    facts = await read_facts(
        eng.db, eng.approvals.clock.now(), forced_lockdown=eng.settings.security_lockdown_mode
    )
    return ConsoleStatus(
        ready=True,
        pending=facts.pending,
        lockdown=facts.lockdown,
        lockdown_why=facts.lockdown_why,
        nodes=facts.nodes,
        next_expiry_sec=facts.next_expiry_sec,
    )
