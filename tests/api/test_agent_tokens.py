"""Security promise 5 over HTTP: an agent token cannot approve, grant, or change anything.

The agent is hostile: it holds a real agent token (minted as `daena agents token create`
does) and tries every operator route, spoofs names in headers and bodies, and reads other
callers' requests. Each attempt must be 403 naming the rule, change nothing (the engine's
state is read back afterwards) and leave an audit record; the operator token still does
everything; a revoked or expired agent token is 401.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from daena_tui.api import TOKEN_HEADER, V1_PREFIX, create_api
from daena_tui.api import V2_PREFIX as API_PREFIX
from daena_tui.api.roles import ROLE_KEY, app_routes, route_role
from engine import AuditFilter, Engine
from tests.api.conftest import Api, api_client
from tests.conftest import make_settings
from tests.support.servers import serve_in_thread

AGENT = "agent:bot"

AGENT_ROUTES = {
    ("GET", f"{API_PREFIX}/tools"),
    ("POST", f"{API_PREFIX}/run"),
    ("POST", f"{API_PREFIX}/request"),
    ("GET", f"{API_PREFIX}/approvals"),
    ("GET", f"{API_PREFIX}/requests"),
    ("GET", f"{API_PREFIX}/approvals/{{request_id}}"),
    ("GET", f"{API_PREFIX}/logs"),
    ("GET", f"{API_PREFIX}/openapi.json"),
    ("GET", f"{V1_PREFIX}/tools"),
    ("POST", f"{V1_PREFIX}/run"),
    ("POST", f"{V1_PREFIX}/request"),
    ("GET", f"{V1_PREFIX}/approvals"),
    ("GET", f"{V1_PREFIX}/requests"),
    ("GET", f"{V1_PREFIX}/logs"),
    ("GET", f"{V1_PREFIX}/openapi.json"),
}


@dataclass
class Attack:
    api: Api
    agent: httpx.AsyncClient
    token: str
    own_request: str  # made by the agent itself
    other_request: str  # made by someone else
    task_id: str


async def pending_via_operator(api: Api) -> str:
    response = await api.run("shell_exec", {"command": "git status"}, requester="daena")
    assert response.status_code == 403, response.text
    return str(response.json()["approval_request_id"])


@pytest.fixture
async def attack(api: Api) -> AsyncIterator[Attack]:
    _, token = await api.eng.credentials.mint("bot", operator="op@test", expires_at=None)
    async with api.client(token=token) as agent:
        own = await agent.post(
            "/run", json={"tool_name": "shell_exec", "args": {"command": "git status"}}
        )
        assert own.status_code == 403 and own.json()["status"] == "pending_approval"
        other = await pending_via_operator(api)
        task = await api.http.post("/tasks", json={"playbook": "inspect_repo"})
        assert task.status_code == 201, task.text
        yield Attack(api, agent, token, own.json()["approval_request_id"], other, task.json()["id"])


def operator_attempts(a: Attack) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every operator route, as an agent would try it."""
    return [
        ("POST", f"/approvals/{a.own_request}", {"decision": "approve", "reason": "mine"}),
        ("POST", f"/approvals/{a.other_request}", {"decision": "approve"}),
        ("POST", f"/approvals/{a.other_request}", {"decision": "deny", "reason": "rival"}),
        ("POST", "/approve?tool_name=shell_exec", None),
        ("POST", "/approve?tool_name=shell_exec", {"args": {"command": "git status"}}),
        ("GET", "/config", None),
        ("PATCH", "/config", {"approval_mode": "auto"}),
        ("PATCH", "/config", {"require_approval_for_risky": False}),
        ("PATCH", "/config", {"lockdown": True}),
        ("PATCH", "/config", {"tool_enabled": {"filesystem_write": True}}),
        ("PATCH", "/tools/filesystem_write/enabled", {"enabled": True}),
        ("PATCH", "/tools/git_status/enabled", {"enabled": False}),
        ("GET", "/node/health", None),
        ("GET", "/node/config", None),
        ("POST", "/node/config", {"url": "http://127.0.0.1:9"}),
        ("POST", "/node/config", {"node": "evil", "url": "http://127.0.0.1:9"}),
        ("POST", "/node/config", {"enabled": False}),
        ("POST", "/node/config", {"token": ""}),
        ("GET", "/tasks", None),
        ("POST", "/tasks", {"playbook": "inspect_repo", "run": True}),
        ("GET", f"/tasks/{a.task_id}", None),
        ("POST", f"/tasks/{a.task_id}/run", None),
        ("POST", f"/tasks/{a.task_id}/resume", None),
        ("POST", f"/tasks/{a.task_id}/cancel", {"reason": "mine now"}),
    ]


async def snapshot(eng: Engine) -> dict[str, Any]:
    """Everything an operator route could change."""
    tasks = await eng.tasks.list("all", 100)
    return {
        "config": (await eng.config()).export(),
        "nodes": [n.to_dict() | {"token": n.token} for n in await eng.nodes.list()],
        "requests": [(r.id, r.status, r.decided_by) for r in await eng.approvals.list(None)],
        "tasks": [(t.id, str(t.status)) for t in tasks],
        "grants": await eng.audit.count(AuditFilter(action="grant")),
        "decisions": await eng.audit.count(AuditFilter(action="approval_approved"))
        + await eng.audit.count(AuditFilter(action="approval_denied")),
        "runs": await eng.audit.count(AuditFilter(action="run", status="ok")),
    }


async def test_every_operator_route_refuses_an_agent_token_changes_nothing_and_is_audited(
    attack: Attack,
) -> None:
    before = await snapshot(attack.api.eng)
    attempts = operator_attempts(attack)
    for method, path, body in attempts:
        # a spoofed operator name in the header must not help either
        response = await attack.agent.request(
            method, path, json=body, headers={"X-Operator": "op@test"}
        )
        assert response.status_code == 403, (method, path, response.text)
        answer = response.json()
        assert answer["error"] == "operator_only", (method, path, answer)
        assert "operator only" in answer["detail"] and AGENT in answer["detail"]
    await attack.api.app.state.api.wait_background()
    assert await snapshot(attack.api.eng) == before
    refused = await attack.api.eng.audit.page(
        AuditFilter(actor=AGENT, action="api_call", status="refused"), limit=1000
    )
    assert len(refused) == len(attempts)
    tried = {(r.args or "") for r in refused}
    assert any("/approvals/" in t for t in tried) and any("/node/config" in t for t in tried)


async def test_the_refusal_names_the_rule(attack: Attack) -> None:
    response = await attack.agent.post(
        f"/approvals/{attack.own_request}", json={"decision": "approve"}
    )
    detail = response.json()["detail"]
    assert detail.startswith(f"POST /api/v2/approvals/{attack.own_request}: ")
    assert "deciding approvals, minting grants" in detail and "operator" in detail


async def test_refusal_comes_before_body_validation(attack: Attack) -> None:
    """An agent learns nothing about an operator route's body rules."""
    response = await attack.agent.patch("/config", json={"no_such_field": 1})
    assert response.status_code == 403 and response.json()["error"] == "operator_only"


async def test_the_operator_token_still_does_everything(attack: Attack) -> None:
    api = attack.api
    approved = await api.http.post(
        f"/approvals/{attack.own_request}", json={"decision": "approve", "reason": "fine"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["request"]["decided_by"] == "api:op@test"
    assert approved.json()["run"]["status"] == "ok"
    denied = await api.http.post(
        f"/approvals/{attack.other_request}", json={"decision": "deny", "reason": "no"}
    )
    assert denied.status_code == 200
    grant = await api.http.post("/approve", params={"tool_name": "shell_exec"})
    assert grant.status_code == 200 and grant.json()["created_by"] == "api:op@test"
    assert (await api.http.patch("/config", json={"lockdown": True})).status_code == 200
    assert (await api.http.patch("/config", json={"lockdown": False})).status_code == 200
    toggled = await api.http.patch("/tools/filesystem_write/enabled", json={"enabled": True})
    assert toggled.status_code == 200
    assert (await api.http.post("/node/config", json={"enabled": False})).status_code == 200
    assert (await api.http.get(f"/tasks/{attack.task_id}")).status_code == 200
    cancel = await api.http.post(f"/tasks/{attack.task_id}/cancel", json={"reason": "done"})
    assert cancel.status_code == 200


async def test_an_agents_request_runs_once_approved_by_the_operator_as_the_agent(
    attack: Attack,
) -> None:
    api = attack.api
    approved = await api.http.post(f"/approvals/{attack.own_request}", json={"decision": "approve"})
    assert approved.status_code == 200
    mine = (await attack.agent.get("/requests")).json()
    assert [(r["id"], r["status"], r["decided_by"]) for r in mine] == [
        (attack.own_request, "approved", "api:op@test")
    ]
    records = (await attack.agent.get("/logs")).json()
    assert records and all(r["actor"] == AGENT for r in records)
    run = [r for r in records if r["action"] == "run" and r["status"] == "ok"]
    assert len(run) == 1 and run[0]["approval_id"] == attack.own_request


async def test_x_operator_spoofing_does_not_change_decided_by(attack: Attack) -> None:
    api = attack.api
    for name in ("bot", "agent:bot", "daena", "op@test"):
        request_id = await pending_via_operator(api)
        response = await api.http.post(
            f"/approvals/{request_id}",
            json={"decision": "deny", "reason": "spoof check"},
            headers={"X-Operator": name},
        )
        assert response.status_code == 200
        assert (await api.eng.approvals.get(request_id)).decided_by == "api:op@test"
    run = await api.http.post(
        "/run", json={"tool_name": "git_status"}, headers={"X-Operator": "agent:bot"}
    )
    record = await api.eng.audit.get(run.json()["audit_id"])
    assert record is not None and record.actor == "api:op@test"


async def test_agent_calls_are_attributed_from_the_credential(attack: Attack) -> None:
    run = await attack.agent.post("/run", json={"tool_name": "git_status"})
    assert run.status_code == 200 and run.json()["status"] == "ok"
    record = await attack.api.eng.audit.get(run.json()["audit_id"])
    assert record is not None and record.actor == AGENT
    asked = await attack.agent.post("/request", json={"tool_name": "git_status", "reason": "r"})
    assert asked.status_code == 202 and asked.json()["requester"] == AGENT


@pytest.mark.parametrize("name", ["api:op@test", "op@test", "daena", "agent:other", "task:x"])
async def test_an_agent_cannot_name_another_requester(attack: Attack, name: str) -> None:
    before = await snapshot(attack.api.eng)
    for path, body in (
        ("/run", {"tool_name": "shell_exec", "args": {"command": "git status"}}),
        ("/request", {"tool_name": "git_status"}),
    ):
        response = await attack.agent.post(path, json={**body, "requester": name})
        assert response.status_code == 403, response.text
        assert "requester: an agent credential acts as agent:bot" in response.json()["detail"]
    assert await snapshot(attack.api.eng) == before
    logs = await attack.agent.get("/logs", params={"actor": name})
    assert logs.status_code == 403
    refused = await attack.api.eng.audit.page(
        AuditFilter(actor=AGENT, action="api_call", status="refused"), limit=10
    )
    assert len(refused) == 3 and all(name[:64] in (r.args or "") for r in refused)


async def test_an_agent_reads_only_its_own_requests(attack: Attack) -> None:
    assert [r["id"] for r in (await attack.agent.get("/approvals")).json()] == [attack.own_request]
    assert [r["id"] for r in (await attack.agent.get("/requests")).json()] == [attack.own_request]
    other = await attack.agent.get(f"/approvals/{attack.other_request}")
    assert other.status_code == 404  # another caller's request does not exist for it
    own = await attack.agent.get(f"/approvals/{attack.own_request}")
    assert own.status_code == 200 and own.json()["requester"] == AGENT
    operator_view = [r["id"] for r in (await attack.api.http.get("/approvals")).json()]
    assert set(operator_view) == {attack.own_request, attack.other_request}


async def test_an_agent_reads_only_its_own_audit_records(attack: Attack) -> None:
    records = (await attack.agent.get("/logs", params={"limit": 1000})).json()
    assert records and {r["actor"] for r in records} == {AGENT}
    assert (await attack.agent.get("/logs", params={"actor": AGENT})).status_code == 200


async def test_an_agent_may_use_a_grant_the_operator_minted(attack: Attack) -> None:
    grant = await attack.api.http.post(
        "/approve", params={"tool_name": "shell_exec"}, json={"args": {"command": "git status"}}
    )
    body = {
        "tool_name": "shell_exec",
        "args": {"command": "git status"},
        "approval_id": grant.json()["approval_id"],
    }
    first = await attack.agent.post("/run", json=body)
    assert first.status_code == 200 and first.json()["status"] == "ok"
    again = await attack.agent.post("/run", json=body)
    assert again.status_code == 403 and "already used" in again.json()["error"]


@pytest.mark.parametrize("how", ["revoked", "expired"])
async def test_a_revoked_or_expired_agent_token_is_401_and_audited(api: Api, how: str) -> None:
    expires = time.time() - 1 if how == "expired" else None
    _, token = await api.eng.credentials.mint("old", operator="op@test", expires_at=expires)
    if how == "revoked":
        await api.eng.credentials.revoke("old", operator="op@test")
    before = await snapshot(api.eng)
    async with api.client(token=token) as agent:
        for method, path, body in (
            ("GET", "/tools", None),
            ("POST", "/run", {"tool_name": "git_status"}),
            ("POST", "/request", {"tool_name": "git_status"}),
        ):
            response = await agent.request(method, path, json=body)
            assert response.status_code == 401, response.text
            assert response.json()["detail"] == f"{TOKEN_HEADER}: the token of agent:old is {how}"
    assert await snapshot(api.eng) == before
    refused = await api.eng.audit.count(AuditFilter(actor="agent:old", status="refused"))
    assert refused == 3


async def test_forged_agent_tokens_are_401(attack: Attack) -> None:
    real = attack.token
    forged = [
        real[:-1] + ("A" if real[-1] != "A" else "B"),
        real + "x",
        real[: len("daena_agent_") + 16] + "_",
        "daena_agent_",
        "daena_agent_" + "0" * 16 + "_" + "x" * 43,
        "daena_agent_" + "g" * 16 + "_" + real[-43:],
        "daena_agent_" + real[len("daena_agent_") :].upper(),
    ]
    for token in forged:
        async with attack.api.client(token=token) as http:
            response = await http.get("/tools")
            assert response.status_code == 401, token
            assert response.json()["detail"] == f"{TOKEN_HEADER}: token is not valid"


async def test_only_the_hash_of_an_agent_token_is_stored(attack: Attack) -> None:
    import hashlib

    rows = await attack.api.eng.db.fetchall("SELECT * FROM agent_credentials")
    assert len(rows) == 1
    values = [str(v) for v in rows[0]]
    assert attack.token not in " ".join(values)
    assert hashlib.sha256(attack.token.encode()).hexdigest() in values
    text = " ".join(str(r.to_dict()) for r in await attack.api.eng.audit.page(AuditFilter()))
    assert attack.token not in text


# -- the role of every route ----------------------------------------------------------------


async def test_every_route_states_its_role_and_an_agent_is_refused_on_every_other(
    attack: Attack,
) -> None:
    """Walk the app's routes: each states a role; the agent routes are exactly the expected
    ones; every other route, called with the agent token, is 403 operator_only."""
    walked = list(app_routes(attack.api.app.routes))
    assert walked and all(isinstance(r, APIRoute) for _, r in walked), walked
    routes = [r for _, r in walked]
    seen: set[tuple[str, str]] = set()
    for path, route in walked:
        assert isinstance(route, APIRoute)
        stated = (route.openapi_extra or {}).get(ROLE_KEY)
        assert stated in ("operator", "agent", "public"), path
        for method in route.methods or ():
            seen.add((method, path))
            if route_role(route) in ("agent", "public"):
                continue
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            response = await attack.agent.request(method, "http://127.0.0.1" + concrete)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"] == "operator_only"
    agent_routes = {
        (m, path)
        for path, r in walked
        if isinstance(r, APIRoute) and route_role(r) == "agent"
        for m in r.methods or ()
    }
    assert agent_routes == AGENT_ROUTES
    public = {path for path, r in walked if route_role(r) == "public"}
    assert len(routes) == len(walked)
    assert public == {"/health", f"{V1_PREFIX}/token-cookie", f"{V1_PREFIX}/auth-status"}
    assert len(seen) > len(AGENT_ROUTES) + 10  # the walk found the operator routes too
    schema = (await attack.api.http.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation[ROLE_KEY] in ("operator", "agent", "public"), (method, path)


async def test_a_route_without_a_role_is_operator_only(api: Api) -> None:
    """Default deny: a route added later without a role stays out of an agent's reach."""
    app = create_api(api.eng)

    @app.post("/api/v2/forgotten")
    async def forgotten() -> dict[str, bool]:
        return {"done": True}

    _, token = await api.eng.credentials.mint("bot", operator="op@test", expires_at=None)
    async with api_client(app, token=token) as agent:
        response = await agent.post("/forgotten")
        assert response.status_code == 403 and response.json()["error"] == "operator_only"
    async with api_client(app) as operator:
        assert (await operator.post("/forgotten")).json() == {"done": True}
    await app.state.api.aclose()


# -- an agent-only API (no EXECUTION_TOKEN) and a real server ---------------------------------


async def test_without_execution_token_only_agent_tokens_work(
    api_workspace: Any, tmp_path: Any
) -> None:
    settings = make_settings(api_workspace, tmp_path / "db" / "daena.db")
    async with Engine.open(settings) as eng:
        _, token = await eng.credentials.mint("bot", operator="op@test", expires_at=None)
        app = create_api(eng)
        async with api_client(app, token=token) as agent:
            assert (await agent.get("/tools")).status_code == 200
            assert (await agent.patch("/config", json={"lockdown": True})).status_code == 403
        async with api_client(app, token=None) as anonymous:
            response = await anonymous.get("/tools")
            assert response.status_code == 401
            assert "only agent tokens are accepted" in response.json()["detail"]
        assert (await eng.config()).lockdown is False


def test_a_real_server_refuses_an_agent_token_on_operator_routes(api_settings: Any) -> None:
    import asyncio

    async def mint() -> str:
        async with Engine.open(api_settings) as eng:
            _, token = await eng.credentials.mint("bot", operator="op@test", expires_at=None)
            return token

    token = asyncio.run(mint())
    with serve_in_thread(create_api(api_settings)) as url:
        base = url + "/api/v2"
        with httpx.Client(base_url=base, headers={TOKEN_HEADER: token}, timeout=30) as http:
            assert http.get("/tools").status_code == 200
            grant = http.post("/approve", params={"tool_name": "shell_exec"})
            assert grant.status_code == 403 and grant.json()["error"] == "operator_only"
            lockdown = http.patch("/config", json={"lockdown": True})
            assert lockdown.status_code == 403
            run = http.post(
                "/run", json={"tool_name": "shell_exec", "args": {"command": "git status"}}
            )
            assert run.status_code == 403 and run.json()["status"] == "pending_approval"
            request_id = run.json()["approval_request_id"]
            decide = http.post(f"/approvals/{request_id}", json={"decision": "approve"})
            assert decide.status_code == 403
            assert http.get(f"/approvals/{request_id}").json()["status"] == "pending"
