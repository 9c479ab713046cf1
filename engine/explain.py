"""Why a call is (or would be) refused, dry-run, sent to the inbox or run — without running it.

`daena explain`, the inbox, the Logs detail and the Policy section's what-if tester all
show the rule that decides a call. The rule is computed by the very checks the executor
runs (`Executor.admit` and `approval_needed`), so an explanation cannot drift from what a
run would do. Explaining executes nothing: admission only validates the arguments and
checks the allowlist and confinement, which read but never write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import EngineError
from engine.policy import ExecutionConfig
from engine.runs import refusal_code
from engine.tools.spec import Risk, ToolSpec

if TYPE_CHECKING:
    from engine.storage.database import Database, SyncTransaction, Transaction

# The outcomes of a call, in the order the executor decides them.
REFUSED, DRY_RUN, NEEDS_APPROVAL, RUNS = "refused", "dry_run", "needs_approval", "runs"


@dataclass(frozen=True)
class Decision:
    """What a call would meet: the outcome, the rule (a stable name) and one sentence."""

    outcome: str
    rule: str
    text: str
    risk: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def approval_needed(spec: ToolSpec, config: ExecutionConfig) -> bool:
    """Risk by mode: a medium- or high-risk tool waits for an operator under require_approval."""
    return (
        spec.risk.rank >= Risk.MEDIUM.rank
        and config.approval_mode == "require_approval"
        and config.require_approval_for_risky
    )


def refused(err: EngineError) -> Decision:
    return Decision(REFUSED, refusal_code(err), err.message)


def admitted(spec: ToolSpec, config: ExecutionConfig, dry_run: bool | None) -> Decision:
    """The decision for a call that passed admission (its tool, arguments and checks)."""
    risk = spec.risk.value
    if config.dry_run_default if dry_run is None else dry_run:
        why = "asked for" if dry_run else "dry_run_default is on"
        return Decision(DRY_RUN, "dry_run", f"dry run ({why}): nothing is executed", risk)
    if approval_needed(spec, config):
        return Decision(
            NEEDS_APPROVAL,
            "risk_mode",
            f"{risk} risk under require_approval: an operator must approve this exact call",
            risk,
        )
    if spec.risk.rank < Risk.MEDIUM.rank:
        return Decision(RUNS, "low_risk", "low risk: runs without approval", risk)
    if config.approval_mode == "auto":
        return Decision(RUNS, "approval_off", f"{risk} risk, approval_mode is auto: runs", risk)
    return Decision(
        RUNS, "approval_off", f"{risk} risk, require_approval_for_risky is off: runs", risk
    )


def approved_by(operator: str) -> Decision:
    return Decision(RUNS, "operator_approval", f"approved by {operator}: runs once, as stored")


def granted(grant_id: str) -> Decision:
    return Decision(RUNS, "grant", f"single-use grant {grant_id} for exactly this call")


REQUESTED = Decision(
    NEEDS_APPROVAL, "requested", "the caller asked for an operator's approval (whatever its risk)"
)

NOT_RECORDED = "not recorded"
"""What a record written before the rules were recorded shows (migration 17)."""

# A record id can be seen again after the newest records were deleted (a tamper that
# verify reports): the rule of the record now holding the id replaces the stale one.
_INSERT = (
    "INSERT INTO audit_rules (audit_id, outcome, rule, text) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (audit_id) DO UPDATE SET outcome = excluded.outcome, rule = excluded.rule, "
    "text = excluded.text"
)


def rule_row(audit_id: int, decision: Decision, redact: Callable[[str], str]) -> tuple[Any, ...]:
    """The audit_rules row for a record; the text is redacted as the record's error is
    (a refusal's message may quote the call)."""
    return (audit_id, decision.outcome, decision.rule, redact(decision.text))


def record_rule(
    stx: SyncTransaction, audit_id: int, decision: Decision, redact: Callable[[str], str]
) -> None:
    """Store the rule beside record `audit_id`, in the transaction that writes it."""
    stx.execute(_INSERT, rule_row(audit_id, decision, redact))


async def record_rule_async(
    tx: Transaction, audit_id: int, decision: Decision, redact: Callable[[str], str]
) -> None:
    await tx.execute(_INSERT, rule_row(audit_id, decision, redact))


async def recorded_rules(db: Database, audit_ids: list[int]) -> dict[int, Decision]:
    """The rules stored for these records (a record missing here: NOT_RECORDED)."""
    if not audit_ids:
        return {}
    marks = ",".join("?" * len(audit_ids))
    rows = await db.fetchall(
        f"SELECT audit_id, outcome, rule, text FROM audit_rules WHERE audit_id IN ({marks})",
        tuple(audit_ids),
    )
    return {int(r[0]): Decision(str(r[1]), str(r[2]), str(r[3])) for r in rows}


def shown_rule(decision: Decision | None) -> str:
    """'RULE — text', as the inbox and the Logs detail show it."""
    return NOT_RECORDED if decision is None else f"{decision.rule} — {decision.text}"
