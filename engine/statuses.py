"""The status words the engine stores and front ends show, and the one tone each is shown in.

Statuses are `StrEnum`s: a member *is* its string, so stored values, JSON and comparisons
with text read from the database stay exactly what they were. The CHECK constraints in
`engine/storage/migrations.py` list the same words for the columns that have one.

`tone_for` is the single status→tone map: every console view colours a status through it
(`daena_tui/console/styles.py` turns a tone into a theme colour), so one status never shows
in two colours. Tones are abstract here: the engine knows no colours.
"""

from __future__ import annotations

from enum import StrEnum


class ApprovalStatus(StrEnum):
    """`approval_requests.status` (migration 1's CHECK). A request is decided once."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


class RunStatus(StrEnum):
    """A run's outcome: `RunResult.status`, the audit record's status of a run, an approved
    request's `run_status`."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    DRY_RUN = "dry_run"
    PENDING_APPROVAL = "pending_approval"
    INTERRUPTED = "interrupted"
    """Recorded by `engine.recovery` when the run's process ended before its outcome; a run
    never returns it."""


class WaitState(StrEnum):
    """`mcp_waits.state` (migration 10's CHECK): an MCP call waiting on a request."""

    WAITING = "waiting"
    DONE = "done"
    WITHDRAWN = "withdrawn"
    ORPHANED = "orphaned"


class Tone(StrEnum):
    """How a status reads at a glance; a console maps each to one theme colour."""

    OK = "ok"
    ACTIVE = "active"
    WARN = "warn"
    ERROR = "error"
    MUTED = "muted"
    NEUTRAL = "neutral"


_TONES: dict[str, Tone] = {
    # runs and approvals
    "ok": Tone.OK,
    "approved": Tone.OK,
    "dry_run": Tone.ACTIVE,
    "pending_approval": Tone.WARN,
    "pending": Tone.WARN,
    "refused": Tone.ERROR,
    "error": Tone.ERROR,
    "timeout": Tone.ERROR,
    "denied": Tone.ERROR,
    "expired": Tone.MUTED,
    "withdrawn": Tone.MUTED,
    "interrupted": Tone.WARN,
    # tasks and their steps (engine.tasks.models)
    "running": Tone.ACTIVE,
    "waiting_approval": Tone.WARN,
    "completed": Tone.OK,
    "succeeded": Tone.OK,
    "failed": Tone.ERROR,
    "budget_exhausted": Tone.ERROR,
    "cancelled": Tone.MUTED,
    "skipped": Tone.MUTED,
    # node health (engine.nodes.client.NodeStatus)
    "unreachable": Tone.ERROR,
    "unauthorized": Tone.WARN,
    "unknown": Tone.MUTED,
    # upstream MCP servers (engine.upstream): connection state, tool pins
    "stopped": Tone.MUTED,
    "pinned": Tone.OK,
    "changed": Tone.ERROR,
    "unpinned": Tone.MUTED,
}


def tone_for(status: str | None) -> Tone:
    """The tone of any status word the engine writes; NEUTRAL for one it does not know."""
    return _TONES.get(status or "", Tone.NEUTRAL)
