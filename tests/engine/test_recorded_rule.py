"""The rule that decided each run, refusal and approval request is stored beside its audit
record, in the same transaction (migration 17), so a finished run shows why it ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine
from engine.errors import LockdownError
from engine.explain import NOT_RECORDED, recorded_rules, shown_rule
from engine.runs import RunRequest


def write(path: str) -> RunRequest:
    return RunRequest(tool="filesystem_write", args={"path": path, "content": "x"})


async def rule_of(eng: Engine, audit_id: int) -> str:
    return shown_rule((await recorded_rules(eng.db, [audit_id])).get(audit_id))


async def test_each_outcome_records_its_rule(eng: Engine, workspace: Path) -> None:
    refused = await eng.run(write("a.txt"))  # filesystem_write is disabled by default
    assert (await rule_of(eng, refused.audit_id)).startswith("disabled — tool: filesystem_write")
    await eng.set_tool_enabled("filesystem_write", True)
    pending = await eng.run(write("b.txt"))
    assert (await rule_of(eng, pending.audit_id)).startswith("risk_mode — high risk under")
    assert pending.approval_request_id is not None
    ran = await eng.approve(pending.approval_request_id)
    assert ran.status == "ok" and (workspace / "b.txt").exists()
    assert await rule_of(eng, ran.audit_id) == (
        f"operator_approval — approved by {eng.operator}: runs once, as stored"
    )
    dry = await eng.run(
        RunRequest(tool="filesystem_write", args={"path": "c", "content": "x"}, dry_run=True)
    )
    assert (await rule_of(eng, dry.audit_id)).startswith("dry_run — dry run (asked for)")
    low = await eng.run(RunRequest(tool="git_status"))
    assert (await rule_of(eng, low.audit_id)).startswith("low_risk")
    outside = await eng.run(write("../escape.txt"))
    assert outside.status == "refused"
    assert not (await rule_of(eng, outside.audit_id)).startswith(NOT_RECORDED)
    grant = await eng.grant("filesystem_write", {"path": "g.txt", "content": "x"})
    granted = await eng.run(
        RunRequest(
            tool="filesystem_write", args={"path": "g.txt", "content": "x"}, approval_id=grant.id
        )
    )
    assert await rule_of(eng, granted.audit_id) == (
        f"grant — single-use grant {grant.id} for exactly this call"
    )


async def test_an_agents_request_and_its_refusal_record_their_rule(eng: Engine) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    request = await eng.request_approval(write("r.txt"))
    rows = await eng.db.fetchall(
        "SELECT id FROM audit WHERE approval_id = ? AND action = 'request'", (request.id,)
    )
    assert (await rule_of(eng, rows[0][0])).startswith("requested — the caller asked")
    await eng.update_config({"lockdown": True})
    with pytest.raises(LockdownError):
        await eng.request_approval(write("s.txt"))
    newest = (await eng.db.fetchall("SELECT MAX(id) FROM audit WHERE action = 'request'"))[0][0]
    assert (await rule_of(eng, newest)).startswith("lockdown — lockdown")


async def test_records_from_before_show_not_recorded(eng: Engine) -> None:
    result = await eng.run(RunRequest(tool="git_status"))
    await eng.db.write(
        lambda tx: tx.execute("DELETE FROM audit_rules WHERE audit_id = ?", (result.audit_id,))
    )
    assert await rule_of(eng, result.audit_id) == NOT_RECORDED
    assert (await eng.audit.verify()).ok  # the rules are beside the chain, not in it
