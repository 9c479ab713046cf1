"""The inbox detail's header: the request's facts, and in its top border which rule
decides it.

A pending request: what `Engine.explain` says of its exact call under the policy now (the
rule an approval would meet, nothing run). A decided one: the rule stored with its run's
audit record (engine/explain.py), or "not recorded" for runs from before. The rule's text
may quote the call, so it is drawn inert and cut with an ellipsis. It sits in the border
row the header has anyway, so it is readable at 80x24 and costs the arguments no row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import work
from textual.widgets import Static

import engine
from engine.explain import NOT_RECORDED, recorded_rules, shown_rule
from engine.runs import RunRequest
from engine.safety.display import inert_one_line

if TYPE_CHECKING:
    from daena_tui.console.app import DaenaApp


def rule_line(rule: str) -> Text:
    text = Text("decided by: ", style="dim")
    return text.append(inert_one_line(rule, 400))


def decided_without_a_run(request: engine.ApprovalRequest) -> str:
    """Who ended a request that never ran, by the name stored with it: an agent that
    withdrew its own request is named as such, never passed off as the operator."""
    who = request.decided_by
    if not who:
        return NOT_RECORDED
    if who == request.requester:
        return f"withdrawn by its requester, {who}"
    return f"{request.status} by {who}"


class DecisionRule(Static):
    """The facts line (the screen updates it every second) under the rule's border title."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.shown = ""  # the plain rule line (tests read it)

    def show(self, request: engine.ApprovalRequest | None) -> None:
        if request is None:
            self.shown = ""
            self.border_title = None
            return
        self._look_up(request)

    @work(exclusive=True, group="decision-rule")
    async def _look_up(self, request: engine.ApprovalRequest) -> None:
        eng = cast("DaenaApp", self.app).eng
        try:
            if request.status == "pending":
                call = RunRequest(tool=request.tool, args=request.args, dry_run=False)
                rule = shown_rule(await eng.explain(call))
            elif request.run_audit_id is not None:
                rules = await recorded_rules(eng.db, [request.run_audit_id])
                rule = shown_rule(rules.get(request.run_audit_id))
            else:
                rule = decided_without_a_run(request)
        except engine.EngineError as err:
            rule = f"unknown ({err.message})"
        line = rule_line(rule)
        self.shown = line.plain
        self.border_title = line
