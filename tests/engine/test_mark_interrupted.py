"""`Recovery.mark_interrupted`: what a console quitting with an approved run in flight records
(daena_tui/console/quitting.py): the run interrupted and audited once, whoever asks twice."""

from __future__ import annotations

from engine import Engine


async def test_an_approved_run_is_recorded_interrupted_once(eng: Engine) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    request = await eng.as_agent("bot").request(
        "filesystem_write", {"path": "x.txt", "content": "y"}
    )
    async with eng.db.transaction() as tx:  # approved, its run not recorded yet: in flight
        approved = await eng.approvals.decide(tx, request.id, "approved", eng.operator, "ok")
    assert await eng.recovery.mark_interrupted(approved) is True
    assert await eng.recovery.mark_interrupted(approved) is False  # recorded already
    stored = await eng.approvals.get(request.id)
    assert stored.run_status == "interrupted" and stored.run_audit_id is not None
    record = await eng.audit.get(stored.run_audit_id)
    assert record is not None and record.action == "approval_run_interrupted"
    assert "it had not started: nothing was executed" in (record.error or "")
