"""What the header shows at a glance: pending approvals, lockdown and node status."""

from __future__ import annotations

from dataclasses import dataclass

import engine


@dataclass(frozen=True)
class ConsoleStatus:
    ready: bool = False
    pending: int = 0
    lockdown: bool = False
    lockdown_why: str = ""
    nodes: str = "n/a"


async def node_summary(eng: engine.Engine) -> str:
    """`1/2 ok` over enabled nodes, or `none`."""
    nodes = [n for n in await eng.nodes.list() if n.enabled]
    if not nodes:
        return "none"
    ok = sum(1 for n in nodes if n.status == "ok")
    return f"{ok}/{len(nodes)} ok"


async def read_status(eng: engine.Engine) -> ConsoleStatus:
    """One cheap snapshot of the header's facts (three small queries)."""
    pending = await eng.approvals.pending_count()
    lockdown, why = await eng.lockdown()
    return ConsoleStatus(
        ready=True,
        pending=pending,
        lockdown=lockdown,
        lockdown_why=why if lockdown else "",
        nodes=await node_summary(eng),
    )
