"""Security promise 5 in the Python engine: an agent (`eng.as_agent`) cannot approve.

The agent path exposes run / request / read-own only; whatever name reaches a decision,
the engine refuses an agent identity as a decider, refuses anyone approving their own
request, and audits each refusal. Real engine, real SQLite file, real git workspace.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from engine import (
    AgentSession,
    AuditFilter,
    CredentialError,
    Engine,
    InputError,
    NotFoundError,
    PolicyError,
    SelfDecisionError,
)
from engine.credentials import parse_expiry

WRITE = {"path": "out.txt", "content": "agent text\n"}
DECIDING = (
    "approve",
    "deny",
    "grant",
    "update_config",
    "set_tool_enabled",
    "approvals",
    "policy",
    "nodes",
    "tasks",
    "credentials",
    "executor",
    "db",
)


@pytest.fixture
async def risky(eng: Engine) -> Engine:
    await eng.set_tool_enabled("filesystem_write", True)
    return eng


async def refused_decisions(eng: Engine, actor: str) -> int:
    records = await eng.audit.page(AuditFilter(actor=actor, status="refused"), limit=100)
    return sum(1 for r in records if r.action.startswith("approval_"))


def test_the_agent_session_has_no_way_to_decide() -> None:
    public = {name for name in dir(AgentSession) if not name.startswith("_")}
    assert public == {
        "identity",
        "name",
        "tools",
        "run",
        "request",
        "requests",
        "request_count",  # how many of its own requests (lists say where they stopped)
        "get_request",
        "results",
    }
    assert not set(DECIDING) & public


def test_a_session_cannot_be_renamed(eng: Engine) -> None:
    agent = eng.as_agent("bot")
    for attribute in ("identity", "name"):
        with pytest.raises(AttributeError):
            setattr(agent, attribute, "op@test")
    assert agent.identity == "agent:bot"


async def test_an_agents_risky_run_waits_and_the_agent_cannot_approve_it(
    risky: Engine, workspace: Path
) -> None:
    agent = risky.as_agent("bot")
    result = await agent.run("filesystem_write", WRITE)
    assert result.status == "pending_approval"
    request_id = result.approval_request_id
    assert request_id is not None
    request = await risky.approvals.get(request_id)
    assert request.requester == "agent:bot"
    for operator in ("agent:bot", "agent:other"):
        with pytest.raises(SelfDecisionError, match="cannot decide"):
            await risky.approve(request_id, operator=operator)
        with pytest.raises(SelfDecisionError, match="cannot decide"):
            await risky.deny(request_id, "withdrawn", operator=operator)
    assert (await risky.approvals.get(request_id)).status == "pending"
    assert not (workspace / "out.txt").exists()
    assert await refused_decisions(risky, "agent:bot") == 2
    assert await refused_decisions(risky, "agent:other") == 2
    # an operator decides it, and it runs as the agent's call
    ran = await risky.approve(request_id, operator="alice")
    assert ran.status == "ok" and (workspace / "out.txt").read_text() == WRITE["content"]
    record = await risky.audit.get(ran.audit_id or 0)
    assert record is not None and record.actor == "agent:bot"


async def test_nobody_approves_their_own_request_but_may_withdraw_it(risky: Engine) -> None:
    result = await risky.run("filesystem_write", WRITE, requester="alice")
    request_id = result.approval_request_id or ""
    with pytest.raises(SelfDecisionError, match="alice made request"):
        await risky.approve(request_id, operator="alice")
    assert (await risky.approvals.get(request_id)).status == "pending"
    assert await refused_decisions(risky, "alice") == 1
    denied = await risky.deny(request_id, "not needed after all", operator="alice")
    assert denied.status == "denied"  # a denial runs nothing: withdrawing is allowed


async def test_an_agent_identity_cannot_mint_grants_or_credentials(risky: Engine) -> None:
    with pytest.raises(PolicyError, match="cannot mint grants"):
        await risky.grant("filesystem_write", WRITE, operator="agent:bot")
    with pytest.raises(PolicyError, match="cannot mint grants"):
        await risky.grant("filesystem_write", tool_scoped=True, operator="agent:bot")
    with pytest.raises(PolicyError, match="cannot mint credentials"):
        await risky.credentials.mint("twin", operator="agent:bot", expires_at=None)
    assert await risky.audit.count(AuditFilter(action="grant")) == 0
    assert await risky.credentials.list() == []


async def test_an_agent_reads_only_its_own_requests_and_records(risky: Engine) -> None:
    bot, rival = risky.as_agent("bot"), risky.as_agent("rival")
    mine = await bot.request("git_status", reason="look")
    theirs = await rival.request("git_status", reason="look too")
    await bot.run("git_status")
    assert [r.id for r in await bot.requests()] == [mine.id]
    assert [r.id for r in await bot.requests("pending")] == [mine.id]
    assert (await bot.get_request(mine.id)).requester == "agent:bot"
    with pytest.raises(NotFoundError):
        await bot.get_request(theirs.id)
    records = await bot.results()
    assert records and {r.actor for r in records} == {"agent:bot"}
    assert {r.action for r in records} == {"request", "run"}
    # a filter naming another actor is overridden: still only its own
    assert {r.actor for r in await bot.results(AuditFilter(actor="agent:rival"))} == {"agent:bot"}


async def test_agent_requests_never_run_before_approval(risky: Engine) -> None:
    request = await risky.as_agent("bot").request("git_status")
    assert request.status == "pending" and request.requester == "agent:bot"
    assert await risky.audit.count(AuditFilter(action="run", tool="git_status")) == 0


@pytest.mark.parametrize("name", ["", "agent:bot", "a b", "../x", "x" * 49, "bot\n"])
def test_agent_names_are_checked(eng: Engine, name: str) -> None:
    with pytest.raises(InputError, match="name: "):
        eng.as_agent(name)


# -- credentials ---------------------------------------------------------------------------


@pytest.mark.no_postgres  # the SQLite file's whole dump (iterdump) has no token
async def test_credentials_are_stored_hashed_and_verified(eng: Engine, db_path: Path) -> None:
    credential, token = await eng.credentials.mint("bot", operator="op", expires_at=None)
    assert token.startswith("daena_agent_") and len(token) > 60
    assert (await eng.credentials.verify(token)).identity == "agent:bot"
    with sqlite3.connect(db_path) as raw:
        dump = "\n".join(raw.iterdump())
    assert token not in dump
    assert hashlib.sha256(token.encode()).hexdigest() in dump
    with pytest.raises(InputError, match="already has an active token"):
        await eng.credentials.mint("bot", operator="op", expires_at=None)
    [revoked] = await eng.credentials.revoke("bot", operator="op")
    assert revoked.state() == "revoked" and revoked.revoked_by == "op"
    with pytest.raises(CredentialError, match="agent:bot is revoked") as caught:
        await eng.credentials.verify(token)
    assert caught.value.credential is not None
    with pytest.raises(NotFoundError):
        await eng.credentials.revoke("bot", operator="op")
    again, second = await eng.credentials.mint("bot", operator="op", expires_at=None)
    assert again.id != credential.id and second != token
    actions = [r.action for r in await eng.audit.page(AuditFilter(actor="op"))]
    assert actions.count("agent_token_create") == 2 and "agent_token_revoke" in actions


@pytest.mark.parametrize("raw", ["", "soon", "0d", "-1d", "2000-01-01", "30x", "9999999d", "1e3d"])
def test_bad_expiry_is_a_clear_error(raw: str) -> None:
    with pytest.raises(InputError, match="expires: "):
        parse_expiry(raw, now=1_800_000_000.0)


def test_expiry_forms() -> None:
    now = 1_800_000_000.0
    assert parse_expiry("never", now) is None
    assert parse_expiry("30m", now) == now + 1800
    assert parse_expiry("2w", now) == now + 14 * 86400
    assert parse_expiry("2027-12-31", now) is not None
