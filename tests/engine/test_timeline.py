"""A run's timeline from the audit log: each stage once, in order, naming its record."""

from __future__ import annotations

from engine import Engine
from engine.approvals import REQUEST_TTL_SEC
from engine.clock import ManualClock
from engine.runs import RunRequest
from engine.timeline import timeline

WRITE = RunRequest(
    tool="filesystem_write", args={"path": "t.txt", "content": "hi"}, requester="agent:bot"
)


async def requested(eng: Engine) -> tuple[str, str]:
    await eng.policy.update({"tool_enabled": {"filesystem_write": True}}, "op")
    result = await eng.run(WRITE)
    assert result.approval_request_id is not None
    return result.trace_id, result.approval_request_id


def stages(found: object) -> list[tuple[str, str]]:
    return [(s.stage, s.action) for s in found.steps]  # type: ignore[attr-defined]


async def test_approved_run_request_decision_start_outcome(eng: Engine) -> None:
    trace, request_id = await requested(eng)
    waiting = await timeline(eng.audit, trace_id=trace)
    assert stages(waiting) == [("request", "run")] and waiting.waiting_for == "a decision"
    await eng.extend(request_id, 60, operator="alice")
    await eng.approve(request_id, operator="alice")
    found = await timeline(eng.audit, trace_id=trace)
    assert stages(found) == [
        ("request", "run"),
        ("extension", "approval_extended"),
        ("decision", "approval_approved"),
        ("start", "run_start"),
        ("outcome", "run"),
    ]
    assert found.waiting_for is None
    decision = found.steps[2]
    assert decision.actor == "alice" and decision.status == "approved"
    ids = [s.audit_id for s in found.steps]
    assert ids == sorted(ids)
    for step in found.steps:
        record = await eng.audit.get(step.audit_id)
        assert record is not None and record.trace_id == trace


async def test_denied_and_expired_runs_end_at_the_decision(settings: object) -> None:
    clock = ManualClock()
    async with Engine.open(settings, clock=clock) as eng:  # type: ignore[arg-type]
        denied_trace, denied = await requested(eng)
        await eng.deny(denied, "not today", operator="bob")
        found = await timeline(eng.audit, trace_id=denied_trace)
        assert stages(found)[-1] == ("decision", "approval_denied")
        assert found.steps[-1].detail == "not today" and found.waiting_for is None
        expired_trace, _ = await requested(eng)
        clock.advance(REQUEST_TTL_SEC + 1)
        await eng.approvals.sweep_expired()
        found = await timeline(eng.audit, trace_id=expired_trace)
        assert stages(found)[-1] == ("decision", "approval_expired")
        assert "start" not in [s.stage for s in found.steps]


async def test_an_unknown_trace_has_no_steps(eng: Engine) -> None:
    found = await timeline(eng.audit, trace_id="nope")
    assert found.steps == [] and found.waiting_for is None


async def test_a_task_with_several_steps_reads_as_one_timeline(eng: Engine) -> None:
    task = await eng.tasks.create_from_playbook("inspect_repo")
    done = await eng.tasks.run(task.id)
    assert done.status == "completed" and len(done.steps) >= 2
    found = await timeline(eng.audit, task_id=task.id)
    ids = [s.audit_id for s in found.steps]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    outcomes = [s for s in found.steps if s.stage == "outcome"]
    assert len(outcomes) == len(done.steps)  # one outcome per step, each its own record
    assert {s.tool for s in outcomes} == {step.tool for step in done.steps}
    assert found.steps[0].stage == "task" and found.steps[-1].stage == "task"
    assert found.waiting_for is None
    for step in found.steps:
        record = await eng.audit.get(step.audit_id)
        assert record is not None and record.task_id == task.id
