"""Approvals (docs/reliability.md, exactly once): grants and requests, attacked from every side."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine import ApprovalError, Engine, InputError, NotFoundError, Settings
from engine.approvals import REQUEST_TTL_SEC
from engine.clock import ManualClock

WRITE = {"path": "out.txt", "content": "approved text\n"}


@pytest.fixture
async def risky(eng: Engine) -> Engine:
    await eng.set_tool_enabled("filesystem_write", True)
    return eng


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def timed(settings: Settings, clock: ManualClock) -> AsyncIterator[Engine]:
    """`risky` on a clock that moves only when the test says: expiry without waiting."""
    async with Engine.open(settings, clock=clock) as engine:
        await engine.set_tool_enabled("filesystem_write", True)
        yield engine


async def runs_of(eng: Engine, status: str = "ok") -> int:
    records = await eng.audit.page(limit=1000)
    return sum(
        1
        for r in records
        if r.action == "run" and r.tool == "filesystem_write" and r.status == status
    )


# -- grants --------------------------------------------------------------------------------


async def test_grant_allows_exactly_one_run(risky: Engine, workspace: Path) -> None:
    grant = await risky.grant("filesystem_write", WRITE)
    first = await risky.run("filesystem_write", WRITE, approval_id=grant.id)
    assert first.status == "ok", first.error
    replay = await risky.run("filesystem_write", WRITE, approval_id=grant.id)
    assert replay.status == "refused" and "already used" in (replay.error or "")
    assert await runs_of(risky) == 1


async def test_grant_bound_to_arguments_and_tool(risky: Engine, workspace: Path) -> None:
    grant = await risky.grant("filesystem_write", WRITE)
    other_args = await risky.run(
        "filesystem_write", {**WRITE, "content": "evil"}, approval_id=grant.id
    )
    assert other_args.status == "refused" and "other arguments" in (other_args.error or "")
    other_tool_grant = await risky.grant("git_status", {})
    other_tool = await risky.run("filesystem_write", WRITE, approval_id=other_tool_grant.id)
    assert other_tool.status == "refused" and "for tool 'git_status'" in (other_tool.error or "")
    assert not (workspace / "out.txt").exists()
    # the refusals did not consume it: the right call still works
    assert (await risky.run("filesystem_write", WRITE, approval_id=grant.id)).status == "ok"


async def test_equivalent_arguments_match_canonically(risky: Engine) -> None:
    grant = await risky.grant("filesystem_write", {**WRITE, "create_dirs": False})
    assert (await risky.run("filesystem_write", WRITE, approval_id=grant.id)).status == "ok"


async def test_expired_grant_refused(timed: Engine, clock: ManualClock, workspace: Path) -> None:
    kept = await timed.grant("filesystem_write", WRITE, ttl_sec=60)
    lapsed = await timed.grant("filesystem_write", WRITE, ttl_sec=60)
    clock.advance(60.5)
    result = await timed.run("filesystem_write", WRITE, approval_id=lapsed.id)
    assert result.status == "refused" and "expired" in (result.error or "")
    clock.step_wall(-3600)  # a clock set back an hour does not revive it (the boot clock)
    result = await timed.run("filesystem_write", WRITE, approval_id=kept.id)
    assert result.status == "refused" and "expired" in (result.error or "")
    assert not (workspace / "out.txt").exists()


async def test_a_grant_is_usable_until_its_last_second(timed: Engine, clock: ManualClock) -> None:
    grant = await timed.grant("filesystem_write", WRITE, ttl_sec=60)
    clock.advance(59.5)
    assert (await timed.run("filesystem_write", WRITE, approval_id=grant.id)).status == "ok"


async def test_unknown_grant_refused(risky: Engine) -> None:
    result = await risky.run("filesystem_write", WRITE, approval_id="grant_forged")
    assert result.status == "refused" and "no grant" in (result.error or "")


async def test_grant_not_consumed_by_refused_run(risky: Engine) -> None:
    grant = await risky.grant("filesystem_write", WRITE)
    await risky.update_config({"lockdown": True})
    assert (await risky.run("filesystem_write", WRITE, approval_id=grant.id)).status == "refused"
    await risky.update_config({"lockdown": False})
    assert (await risky.run("filesystem_write", WRITE, approval_id=grant.id)).status == "ok"


async def test_concurrent_use_runs_exactly_once(risky: Engine, settings: Settings) -> None:
    grant = await risky.grant("filesystem_write", WRITE)
    async with Engine.open(settings) as second:  # a second connection, like another process
        results = await asyncio.gather(
            *(e.run("filesystem_write", WRITE, approval_id=grant.id) for e in [risky, second] * 5)
        )
    assert sorted(r.status for r in results).count("ok") == 1
    assert await runs_of(risky) == 1


async def test_tool_scoped_grant_only_when_asked(risky: Engine) -> None:
    with pytest.raises(InputError):
        await risky.grant("filesystem_write", WRITE, tool_scoped=True)
    scoped = await risky.grant("filesystem_write", tool_scoped=True)
    assert scoped.tool_scoped
    assert (
        await risky.run("filesystem_write", {**WRITE, "path": "b.txt"}, approval_id=scoped.id)
    ).ok
    implicit = await risky.grant("git_status")  # no args: bound to the defaults, not scoped
    assert not implicit.tool_scoped
    with pytest.raises(InputError, match=r"args\.path"):
        await risky.grant("filesystem_write")  # no silent widening to tool scope


async def test_grant_for_invalid_args_rejected(risky: Engine) -> None:
    with pytest.raises(InputError, match=r"args\.content"):
        await risky.grant("filesystem_write", {"path": "x"})
    with pytest.raises(NotFoundError):
        await risky.grant("nope", {})


# -- requests ------------------------------------------------------------------------------


async def request(eng: Engine, args: dict[str, object] = WRITE) -> str:
    result = await eng.run(
        "filesystem_write", args, requester="agent:planner", reason="needs a file"
    )
    assert result.status == "pending_approval"
    assert result.approval_request_id
    return result.approval_request_id


async def test_request_shows_exact_args_and_runs_once_on_approval(
    risky: Engine, workspace: Path
) -> None:
    req_id = await request(risky)
    pending = await risky.pending_approvals()
    assert [(r.id, r.args["content"], r.requester, r.reason) for r in pending] == [
        (req_id, "approved text\n", "agent:planner", "needs a file")
    ]
    assert 29 * 60 < pending[0].seconds_left() <= 30 * 60
    result = await risky.approve(req_id, operator="alice")
    assert result.status == "ok"
    assert (workspace / "out.txt").read_text() == "approved text\n"
    stored = await risky.approvals.get(req_id)
    assert (stored.status, stored.decided_by, stored.run_status) == ("approved", "alice", "ok")
    with pytest.raises(ApprovalError, match="already approved"):
        await risky.approve(req_id, operator="alice")
    assert await runs_of(risky) == 1
    decision = [r for r in await risky.audit.page() if r.action == "approval_approved"]
    assert decision[0].actor == "alice"


async def test_concurrent_approvals_run_once(risky: Engine, settings: Settings) -> None:
    req_id = await request(risky)
    async with Engine.open(settings) as second:
        outcomes = await asyncio.gather(
            risky.approve(req_id, operator="alice"),
            second.approve(req_id, operator="bob"),
            return_exceptions=True,
        )
    assert sum(1 for o in outcomes if not isinstance(o, BaseException)) == 1
    assert sum(1 for o in outcomes if isinstance(o, ApprovalError)) == 1
    assert await runs_of(risky) == 1


async def test_deny_then_approve_is_impossible(risky: Engine, workspace: Path) -> None:
    req_id = await request(risky)
    with pytest.raises(InputError, match="reason"):
        await risky.deny(req_id, "  ")
    denied = await risky.deny(req_id, "not today", operator="alice")
    assert (denied.status, denied.decision_reason) == ("denied", "not today")
    with pytest.raises(ApprovalError, match="already denied"):
        await risky.approve(req_id, operator="alice")
    assert not (workspace / "out.txt").exists()


async def test_expired_request_fails_closed(
    timed: Engine, clock: ManualClock, workspace: Path
) -> None:
    req_id = await request(timed)
    clock.advance(REQUEST_TTL_SEC - 1)
    assert [r.id for r in await timed.pending_approvals()] == [req_id]
    clock.advance(2)
    with pytest.raises(ApprovalError, match="expired"):
        await timed.approve(req_id, operator="alice")
    assert await timed.pending_approvals() == []
    assert not (workspace / "out.txt").exists()
    assert (await timed.approvals.get(req_id)).status == "expired"  # marked by who found it
    assert await timed.approvals.sweep_expired() == 0  # so the sweep has nothing left


async def test_requester_cannot_approve_own_request(risky: Engine) -> None:
    req_id = await request(risky)
    with pytest.raises(ApprovalError, match="cannot decide"):
        await risky.approve(req_id, operator="agent:planner")


async def test_approve_during_lockdown_leaves_request_pending(risky: Engine) -> None:
    req_id = await request(risky)
    await risky.update_config({"lockdown": True})
    from engine import PolicyError

    with pytest.raises(PolicyError, match="lockdown"):
        await risky.approve(req_id, operator="alice")
    assert (await risky.approvals.get(req_id)).status == "pending"


async def test_unknown_request(risky: Engine) -> None:
    with pytest.raises(NotFoundError):
        await risky.approve("req_nope", operator="alice")


async def test_pending_requests_survive_restart_and_expiry_is_swept(
    settings: Settings, workspace: Path
) -> None:
    async with Engine.open(settings) as eng:
        await eng.set_tool_enabled("filesystem_write", True)
        keep = await request(eng)
        stale = await request(eng, {**WRITE, "path": "stale.txt"})
        await eng.db._conn.execute(
            "UPDATE approval_requests SET expires_at = ? WHERE id = ?", (time.time() - 5, stale)
        )
    async with Engine.open(settings) as eng:
        assert [r.id for r in await eng.pending_approvals()] == [keep]
        await asyncio.wait_for(eng.sweeper.idle.wait(), 30)  # swept after open, not in it
        assert (await eng.approvals.get(stale)).status == "expired"
        assert (await eng.approve(keep, operator="alice")).status == "ok"
    assert (workspace / "out.txt").exists() and not (workspace / "stale.txt").exists()
