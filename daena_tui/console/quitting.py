"""Quitting while this console has a run in flight (ctrl+q): ask first; if the operator
confirms, stop the console's run workers and record each run as interrupted, through the
engine's own crash recovery (`engine.recovery`), so no `run_start` is left without an
outcome and no approved request waits for ever. A task whose step was cut short is marked
interrupted the same way (`resume` decides what runs again)."""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING

import engine
from engine.safety.display import inert_one_line

if TYPE_CHECKING:  # the console's first frame is drawn before the engine's modules load
    from engine.leases import Lease

# The worker groups that run tools: Run (run form), Approvals (approve), Tasks (run, resume).
RUN_GROUPS = ("run", "decide", "act")


async def runs_in_flight(eng: engine.Engine) -> list[Lease]:
    """The runs this process has started and not finished."""
    return [lease for lease in await eng.leases.on_this_host() if lease.owner_pid == os.getpid()]


def question(running: list[Lease], busy: int) -> str:
    """What the dialog says: the runs that will be recorded as interrupted (a read-only
    run records no start, so it is only counted as in flight)."""
    if not running:
        return (
            f"{busy} read-only run{'s' if busy != 1 else ''} in flight: quitting stops it "
            "(it changed nothing). Cancel keeps the console open."
        )
    tools = ", ".join(sorted({inert_one_line(lease.tool or "a tool", 40) for lease in running}))
    return (
        f"{len(running)} run{'s' if len(running) != 1 else ''} in flight ({tools}). "
        "Quitting stops waiting for the outcome and records each as interrupted in the "
        "audit log: check what it changed. Cancel keeps the console open."
    )


async def record_interrupted(eng: engine.Engine) -> int:
    """Record every run of this process still in flight as interrupted (call once its
    workers are cancelled); returns how many were recorded."""
    from engine.recovery import reap_lease

    recorded = 0
    for lease in await runs_in_flight(eng):
        if lease.for_request and lease.approval_id:
            request = await eng.approvals.get(lease.approval_id)
            # The recovery's own step for an approved request's run (it releases the lease).
            recorded += await eng.recovery.mark_interrupted(request)
        else:
            recorded += bool(await eng.db.write(partial(reap_lease, audit=eng.audit, lease=lease)))
    await eng.recovery.orphaned_tasks()
    return recorded
