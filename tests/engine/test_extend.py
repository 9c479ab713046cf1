"""Extending a pending request: operators only, bounded, audited, and the new expiry holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Engine, Settings
from engine.approvals import MAX_EXTENSION_SEC, MAX_REQUEST_LIFETIME_SEC, REQUEST_TTL_SEC
from engine.clock import ManualClock
from engine.errors import ApprovalError, InputError, PolicyError, SelfDecisionError
from engine.runs import RunRequest
from engine.statuses import ApprovalStatus


def write_request() -> RunRequest:
    return RunRequest(
        tool="filesystem_write",
        args={"path": "out.txt", "content": "once\n"},
        requester="agent:bot",
        reason="write it",
    )


async def pending(eng: Engine) -> str:
    await eng.policy.update({"tool_enabled": {"filesystem_write": True}}, "op")
    return (await eng.request_approval(write_request())).id


async def test_an_extension_keeps_a_request_alive_past_its_old_expiry(
    settings: Settings, workspace: Path
) -> None:
    clock = ManualClock()
    async with Engine.open(settings, clock=clock) as eng:
        request_id = await pending(eng)
        extended = await eng.extend(request_id, 600, operator="op@host")
        assert extended.expires_at - extended.created_at == REQUEST_TTL_SEC + 600
        clock.advance(REQUEST_TTL_SEC + 300)  # past the old expiry, before the new one
        result = await eng.approve(request_id, operator="op@host")
        assert result.status == "ok"
        assert (workspace / "out.txt").read_text() == "once\n"
        records = await eng.audit.page(limit=50)
        extension = [r for r in records if r.action == "approval_extended"]
        assert len(extension) == 1 and extension[0].actor == "op@host"
        assert extension[0].approval_id == request_id


async def test_it_still_expires_at_the_new_time(settings: Settings, workspace: Path) -> None:
    clock = ManualClock()
    async with Engine.open(settings, clock=clock) as eng:
        request_id = await pending(eng)
        await eng.extend(request_id, 60)
        clock.advance(REQUEST_TTL_SEC + 61)
        with pytest.raises(ApprovalError, match="expired"):
            await eng.approve(request_id)
        with pytest.raises(ApprovalError, match="expired"):
            await eng.extend(request_id, 60)
        assert (await eng.approvals.get(request_id)).status == ApprovalStatus.EXPIRED
    assert not (workspace / "out.txt").exists()


async def test_extensions_are_bounded_and_for_operators_only(eng: Engine) -> None:
    request_id = await pending(eng)
    before = (await eng.approvals.get(request_id)).expires_at
    with pytest.raises(SelfDecisionError, match="agents cannot extend"):
        await eng.extend(request_id, 60, operator="agent:bot")
    for seconds in (0, -5, MAX_EXTENSION_SEC + 1):
        with pytest.raises(InputError, match="by: an extension must be between"):
            await eng.extend(request_id, seconds)
    steps = int((MAX_REQUEST_LIFETIME_SEC - REQUEST_TTL_SEC) // MAX_EXTENSION_SEC)
    for _ in range(steps):
        await eng.extend(request_id, MAX_EXTENSION_SEC)
    with pytest.raises(PolicyError, match="may live at most 4 h"):
        await eng.extend(request_id, MAX_EXTENSION_SEC)
    after = await eng.approvals.get(request_id)
    assert after.expires_at - after.created_at <= MAX_REQUEST_LIFETIME_SEC
    assert after.expires_at == before + steps * MAX_EXTENSION_SEC


async def test_a_decided_request_cannot_be_extended(eng: Engine) -> None:
    request_id = await pending(eng)
    await eng.deny(request_id, "no")
    with pytest.raises(ApprovalError, match="already denied"):
        await eng.extend(request_id, 60)
