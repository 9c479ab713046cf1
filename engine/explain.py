"""Why a call is (or would be) refused, dry-run, sent to the inbox or run — without running it.

`daena explain`, the inbox, the Logs detail and the Policy section's what-if tester all
show the rule that decides a call. The rule is computed by the very checks the executor
runs (`Executor.admit` and `approval_needed`), so an explanation cannot drift from what a
run would do. Explaining executes nothing: admission only validates the arguments and
checks the allowlist and confinement, which read but never write.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import EngineError
from engine.policy import ExecutionConfig
from engine.runs import refusal_code
from engine.tools.spec import Risk, ToolSpec

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
