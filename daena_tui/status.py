"""What the header shows at a glance: pending approvals, lockdown and node status."""

from __future__ import annotations

from dataclasses import dataclass

import engine
from daena_tui import services


@dataclass(frozen=True)
class ConsoleStatus:
    ready: bool = False
    pending: int = 0
    lockdown: bool = False
    lockdown_why: str = ""
    nodes: str = "n/a"


async def read_status(eng: engine.Engine) -> ConsoleStatus:
    """One cheap snapshot of the header's facts (three small queries)."""
    pending = await eng.approvals.pending_count()
    lockdown, why = await eng.lockdown()
    return ConsoleStatus(
        ready=True,
        pending=pending,
        lockdown=lockdown,
        lockdown_why=why if lockdown else "",
        nodes=await services.node_summary(eng),
    )
