"""The HTTP API: every `/api/v2/*` route, its envelope and its status codes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from daena_tui.api import V2_PREFIX as API_PREFIX
from daena_tui.api import create_api
from engine import AuditFilter, Engine, Settings
from tests.api.conftest import TOKEN, Api, api_client
from tests.node_server.conftest import TOKEN as NODE_TOKEN
from tests.node_server.conftest import make_workspace, node_settings, serve

ENVELOPE = {"success", "status", "result", "error", "audit_id", "trace_id", "dry_run"}


# -- tools and runs -----------------------------------------------------------------------


async def test_tools_lists_every_tool_with_risk_and_enabled(api: Api) -> None:
    response = await api.http.get("/tools")
    assert response.status_code == 200
    tools = {t["name"]: t for t in response.json()}
    assert {"git_status", "apply_patch", "shell_exec", "filesystem_write"} <= set(tools)
    assert tools["git_status"]["risk"] == "low" and tools["git_status"]["enabled"] is True
    assert tools["apply_patch"]["risk"] == "high" and tools["apply_patch"]["enabled"] is False
    assert tools["filesystem_read"]["schema"]["properties"]["path"]["type"] == "string"
    assert all({"name", "description", "enabled", "risk"} <= set(t) for t in tools.values())


async def test_run_ok_returns_the_original_envelope(api: Api) -> None:
    response = await api.run("filesystem_read", {"path": "README.md"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= ENVELOPE
    assert body["success"] is True and body["status"] == "ok" and body["dry_run"] is False
    assert body["result"]["content"] == "hello\n"
    assert "approval_request_id" not in body
    record = await api.eng.audit.get(body["audit_id"])
    assert record is not None and record.trace_id == body["trace_id"]
    assert record.actor == "api:op@test"


async def test_tool_failure_is_200_with_success_false(api: Api) -> None:
    response = await api.run("filesystem_read", {"path": "missing.txt"})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False and body["status"] == "error"
    assert "does not exist" in body["error"]


async def test_risky_run_without_grant_is_403_with_an_inbox_request(api: Api) -> None:
    response = await api.run("shell_exec", {"command": "git status"}, reason="check the repo")
    assert response.status_code == 403
    body = response.json()
    assert body["status"] == "pending_approval" and body["success"] is False
    request = await api.eng.approvals.get(body["approval_request_id"])
    assert request.status == "pending" and request.reason == "check the repo"
    assert request.args["command"] == "git status"


async def test_dry_run_needs_no_approval_and_changes_nothing(api: Api) -> None:
    await api.enable("filesystem_write")
    response = await api.run(
        "filesystem_write", {"path": "README.md", "content": "changed\n"}, dry_run=True
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "dry_run" and body["dry_run"] is True and body["success"] is True
    assert (api.workspace / "README.md").read_text() == "hello\n"


async def test_apply_patch_dry_run_leaves_the_file_unchanged(api: Api) -> None:
    await api.enable("apply_patch")
    patch = (
        "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n"
        "@@ -1 +1 @@\n-hello\n+patched\n"
    )
    response = await api.run("apply_patch", {"patch": patch}, dry_run=True)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "dry_run"
    assert (api.workspace / "README.md").read_text() == "hello\n"


async def test_disabled_tool_is_403(api: Api) -> None:
    response = await api.run("filesystem_write", {"path": "x.txt", "content": "x"})
    assert response.status_code == 403
    assert response.json()["status"] == "refused"
    assert "disabled" in response.json()["detail"]
    assert not (api.workspace / "x.txt").exists()


async def test_unknown_tool_is_404_and_audited(api: Api) -> None:
    response = await api.run("no_such_tool")
    assert response.status_code == 404
    assert response.json()["status"] == "refused"
    assert await api.eng.audit.count(AuditFilter(tool="no_such_tool", status="refused")) == 1


async def test_invalid_tool_arguments_are_422_naming_the_field(api: Api) -> None:
    response = await api.run("filesystem_read", {"max_bytes": "lots"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("args.")


async def test_invalid_run_body_is_422_field_and_rule(api: Api) -> None:
    cases = [
        ({"args": {}}, "tool_name: Field required"),
        ({"tool_name": ""}, "tool_name: String should have at least 1 character"),
        ({"tool_name": "git_status", "args": []}, "args: Input should be a valid dictionary"),
        ({"tool_name": "git_status", "surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({"tool_name": "git_status", "dry_run": "maybe"}, "dry_run: Input should be a valid"),
    ]
    for body, expected in cases:
        response = await api.http.post("/run", json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"].startswith(expected), response.json()


async def test_tool_scoped_grant_then_run_then_replay_refused(api: Api) -> None:
    response = await api.http.post("/approve", params={"tool_name": "shell_exec"})
    assert response.status_code == 200
    grant = response.json()
    assert grant["tool_name"] == "shell_exec" and grant["ttl_seconds"] == 300
    assert grant["scope"] == "tool" and grant["expires_at"].endswith("Z")
    first = await api.run("shell_exec", {"command": "git status"}, approval_id=grant["approval_id"])
    assert first.status_code == 200 and first.json()["status"] == "ok", first.text
    replay = await api.run(
        "shell_exec", {"command": "git status"}, approval_id=grant["approval_id"]
    )
    assert replay.status_code == 403
    assert replay.json()["status"] == "refused" and "already used" in replay.json()["error"]


async def test_grant_bound_to_args_refuses_other_args(api: Api) -> None:
    response = await api.http.post(
        "/approve",
        params={"tool_name": "shell_exec"},
        json={"args": {"command": "git status"}},
    )
    assert response.status_code == 200 and response.json()["scope"] == "args"
    grant_id = response.json()["approval_id"]
    other = await api.run("shell_exec", {"command": "git log"}, approval_id=grant_id)
    assert other.status_code == 403 and "other arguments" in other.json()["error"]
    same = await api.run("shell_exec", {"command": "git status"}, approval_id=grant_id)
    assert same.status_code == 200 and same.json()["status"] == "ok"


async def test_grant_for_another_tool_is_refused(api: Api) -> None:
    grant = (await api.http.post("/approve", params={"tool_name": "web_scrape_bs4"})).json()
    response = await api.run(
        "shell_exec", {"command": "git status"}, approval_id=grant["approval_id"]
    )
    assert response.status_code == 403 and "not 'shell_exec'" in response.json()["error"]


async def test_approve_errors(api: Api) -> None:
    assert (await api.http.post("/approve")).status_code == 422
    unknown = await api.http.post("/approve", params={"tool_name": "nope"})
    assert unknown.status_code == 404 and "unknown tool" in unknown.json()["detail"]
    bad_args = await api.http.post(
        "/approve", params={"tool_name": "shell_exec"}, json={"args": {"command": 5}}
    )
    assert bad_args.status_code == 422 and bad_args.json()["detail"].startswith("args.command")


async def test_lockdown_is_423_for_runs(api: Api) -> None:
    await api.set_config(lockdown=True)
    response = await api.run("git_status")
    assert response.status_code == 423
    assert response.json()["status"] == "refused" and "lockdown" in response.json()["detail"]
    config = (await api.http.get("/config")).json()
    assert config["lockdown"] is True and config["lockdown_source"] == "config"


# -- logs ---------------------------------------------------------------------------------


async def test_logs_newest_first_with_filters_and_paging(api: Api) -> None:
    for _ in range(3):
        await api.run("git_status")
    query = {"tool": "git_status", "action": "run"}
    response = await api.http.get("/logs", params={"limit": 2, **query})
    assert response.status_code == 200
    records = response.json()
    assert len(records) == 2 and records[0]["id"] > records[1]["id"]
    assert all(r["tool"] == "git_status" and r["status"] == "ok" for r in records), records
    older = await api.http.get(
        "/logs", params={"limit": 10, **query, "before_id": records[1]["id"]}
    )
    assert len(older.json()) == 1


async def test_logs_text_search_and_a_nul_in_it(api: Api) -> None:
    await api.run("filesystem_read", {"path": "README.md"})
    found = (await api.http.get("/logs", params={"text": "readme.md"})).json()
    assert [r["tool"] for r in found if r["action"] == "run"] == ["filesystem_read"]
    response = await api.http.get("/logs", params={"text": "a\x00b"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("text: must not contain a NUL")


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5"])
async def test_logs_limit_outside_1_to_1000_is_422(api: Api, limit: str) -> None:
    response = await api.http.get("/logs", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("limit: ")


async def test_unknown_query_parameter_is_422_not_ignored(api: Api) -> None:
    response = await api.http.get("/logs", params={"limt": 5})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("limt: unknown query parameter")
    assert "limit" in response.json()["detail"]
    bad = await api.http.post("/run", params={"dry_run": "true"}, json={"tool_name": "git_status"})
    assert bad.status_code == 422 and "takes: none" in bad.json()["detail"]


# -- config -------------------------------------------------------------------------------


async def test_config_get_has_the_original_budget_shape(api: Api) -> None:
    config = (await api.http.get("/config")).json()
    assert config["approval_mode"] == "require_approval"
    assert config["budget"] == {"max_steps_per_run": 20, "max_retries_per_tool": 2}
    assert config["tool_enabled"]["apply_patch"] is False


async def test_config_patch_is_partial_accepts_budget_and_is_audited(api: Api) -> None:
    response = await api.http.patch(
        "/config", json={"budget": {"max_steps_per_run": 7}}, headers={"X-Operator": "alice"}
    )
    assert response.status_code == 200
    config = response.json()
    assert config["max_steps_per_run"] == 7 and config["max_retries_per_tool"] == 2
    assert config["approval_mode"] == "require_approval"
    records = await api.eng.audit.page(AuditFilter(action="config_change"), limit=1)
    assert records[0].actor == "api:op@test"  # the credential's name; X-Operator is ignored
    await api.set_config(approval_mode="auto")
    assert (await api.run("shell_exec", {"command": "git status"})).status_code == 200


async def test_an_empty_config_patch_answers_the_current_config(api: Api) -> None:
    """As the original: `{}` (or only nulls) changes nothing and answers the config; the
    schema allows it, so it is not an error (issue 14)."""
    before = (await api.http.get("/config")).json()
    for body in ({}, {"approval_mode": None, "lockdown": None}):
        response = await api.http.patch("/config", json=body)
        assert response.status_code == 200 and response.json() == before


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"max_steps_per_run": 0}, "max_steps_per_run: "),
        ({"approval_mode": "yolo"}, "approval_mode: "),
        ({"budget": {"max_retries_per_tool": 99}}, "budget.max_retries_per_tool: "),
        ({"tool_enabled": {"no_such_tool": True}}, "tool_enabled: unknown tool"),
        ({"tool_enabled": {"git_status": "sometimes"}}, "tool_enabled.git_status: "),
        ({"colour": "blue"}, "colour: Extra inputs"),
    ],
)
async def test_invalid_config_patch_is_422_and_changes_nothing(
    api: Api, body: dict[str, object], detail: str
) -> None:
    before = (await api.http.get("/config")).json()
    response = await api.http.patch("/config", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail), response.json()
    assert (await api.http.get("/config")).json() == before


async def test_tool_toggle(api: Api) -> None:
    response = await api.http.patch("/tools/git_status/enabled", json={"enabled": False})
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert (await api.run("git_status")).status_code == 403
    unknown = await api.http.patch("/tools/nope/enabled", json={"enabled": True})
    assert unknown.status_code == 404
    bad = await api.http.patch("/tools/git_status/enabled", json={"enabled": "yes please"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("enabled: ")
    missing = await api.http.patch("/tools/git_status/enabled", json={})
    assert missing.status_code == 422 and missing.json()["detail"] == "enabled: Field required"


# -- nodes --------------------------------------------------------------------------------


async def test_node_config_never_returns_the_token(api: Api) -> None:
    response = await api.http.post(
        "/node/config", json={"url": "http://127.0.0.1:1", "token": "node-secret-42"}
    )
    assert response.status_code == 200
    assert response.json()["token_set"] is True and response.json()["url"] == "http://127.0.0.1:1"
    for path in ("/node/config", "/logs", "/node/health"):
        text = (await api.http.get(path)).text
        assert "node-secret-42" not in text, path
    cleared = await api.http.post("/node/config", json={"token": ""})
    assert cleared.json()["token_set"] is False


async def test_node_config_errors(api: Api) -> None:
    bad_url = await api.http.post("/node/config", json={"url": "ftp://nope"})
    assert bad_url.status_code == 422 and bad_url.json()["detail"].startswith("url: ")
    nothing = await api.http.post("/node/config", json={})
    assert nothing.status_code == 422 and "nothing to change" in nothing.json()["detail"]
    missing = await api.http.get("/node/config", params={"node": "mars"})
    assert missing.status_code == 404
    assert (await api.http.get("/node/health", params={"node": "mars"})).status_code == 404


async def test_node_health_probes_a_real_node(api: Api, tmp_path: Path) -> None:
    unreachable = (await api.http.get("/node/health")).json()
    assert unreachable["node"] == "windows" and unreachable["ok"] is False
    (tmp_path / "node").mkdir()
    ws = make_workspace(tmp_path / "node")
    with serve(node_settings(ws)) as node:
        await api.http.post("/node/config", json={"url": node.url, "token": NODE_TOKEN})
        response = await api.http.get("/node/health")
        assert response.status_code == 200
        health = response.json()
        assert health["ok"] is True and health["status"] == "ok"
        assert "file_read_workspace" in health["tools"]
        await api.http.post("/node/config", json={"token": "wrong-token"})
        assert (await api.http.get("/node/health")).json()["status"] == "unauthorized"


async def test_node_config_adds_the_default_node_back(api: Api) -> None:
    await api.eng.nodes.remove("windows", operator="op@test")
    assert (await api.http.get("/node/config")).status_code == 404
    response = await api.http.post("/node/config", json={"url": "http://127.0.0.1:2"})
    assert response.status_code == 200 and response.json()["name"] == "windows"


# -- approvals inbox ----------------------------------------------------------------------


async def pending_request(api: Api) -> str:
    response = await api.run("shell_exec", {"command": "git status"}, requester="daena")
    assert response.status_code == 403
    return str(response.json()["approval_request_id"])


async def test_approvals_lists_pending_requests(api: Api) -> None:
    request_id = await pending_request(api)
    response = await api.http.get("/approvals")
    assert response.status_code == 200
    [item] = response.json()
    assert item["id"] == request_id and item["status"] == "pending"
    assert item["requester"] == "daena" and 0 < item["seconds_left"] <= 1800
    assert item["args"] == {"command": "git status", "timeout_sec": 30.0}
    one = await api.http.get(f"/approvals/{request_id}")
    assert one.status_code == 200 and one.json()["id"] == request_id
    assert (await api.http.get("/approvals/req_missing")).status_code == 404


async def test_approve_runs_once_and_second_decision_is_409(api: Api) -> None:
    request_id = await pending_request(api)
    response = await api.http.post(
        f"/approvals/{request_id}", json={"decision": "approve", "reason": "fine"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["request"]["status"] == "approved"
    assert body["request"]["decided_by"] == "api:op@test"
    assert body["run"]["status"] == "ok" and body["success"] is True
    again = await api.http.post(f"/approvals/{request_id}", json={"decision": "approve"})
    assert again.status_code == 409 and "already approved" in again.json()["detail"]
    deny = await api.http.post(f"/approvals/{request_id}", json={"decision": "deny", "reason": "x"})
    assert deny.status_code == 409
    runs = await api.eng.audit.count(AuditFilter(tool="shell_exec", status="ok"))
    assert runs == 1


async def test_deny_needs_a_reason_then_approve_is_409(api: Api) -> None:
    request_id = await pending_request(api)
    no_reason = await api.http.post(f"/approvals/{request_id}", json={"decision": "deny"})
    assert no_reason.status_code == 422 and no_reason.json()["detail"].startswith("reason: ")
    denied = await api.http.post(
        f"/approvals/{request_id}", json={"decision": "deny", "reason": "not now"}
    )
    assert denied.status_code == 200
    assert denied.json()["request"]["status"] == "denied"
    assert denied.json()["request"]["decision_reason"] == "not now"
    late = await api.http.post(f"/approvals/{request_id}", json={"decision": "approve"})
    assert late.status_code == 409


async def test_decision_errors(api: Api) -> None:
    assert (
        await api.http.post("/approvals/req_missing", json={"decision": "approve"})
    ).status_code == 404
    request_id = await pending_request(api)
    bad = await api.http.post(f"/approvals/{request_id}", json={"decision": "maybe"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("decision: ")


async def test_the_requester_cannot_approve_its_own_request(api: Api) -> None:
    own = await api.run("shell_exec", {"command": "git status"})  # requester api:op@test
    request_id = own.json()["approval_request_id"]
    response = await api.http.post(f"/approvals/{request_id}", json={"decision": "approve"})
    assert response.status_code == 403 and response.json()["error"] == "own_request"
    assert (await api.eng.approvals.get(request_id)).status == "pending"
    spoofed = await api.http.post(
        f"/approvals/{request_id}", json={"decision": "approve"}, headers={"X-Operator": "bob"}
    )
    assert spoofed.status_code == 403  # a header cannot lend another name
    assert (await api.eng.approvals.get(request_id)).status == "pending"
    result = await api.eng.approve(request_id)  # another operator: the console's op@test
    assert result.status == "ok"
    assert (await api.eng.approvals.get(request_id)).decided_by == "op@test"


async def test_approving_during_lockdown_is_423_and_stays_pending(api: Api) -> None:
    request_id = await pending_request(api)
    await api.set_config(lockdown=True)
    response = await api.http.post(f"/approvals/{request_id}", json={"decision": "approve"})
    assert response.status_code == 423
    assert (await api.eng.approvals.get(request_id)).status == "pending"


async def test_requests_lists_every_status(api: Api) -> None:
    approved, denied, pending = [await pending_request(api) for _ in range(3)]
    await api.http.post(f"/approvals/{approved}", json={"decision": "approve"})
    await api.http.post(f"/approvals/{denied}", json={"decision": "deny", "reason": "no"})
    response = await api.http.get("/requests")
    assert response.status_code == 200
    statuses = {r["id"]: r["status"] for r in response.json()}
    assert statuses == {approved: "approved", denied: "denied", pending: "pending"}
    only = await api.http.get("/requests", params={"status": "denied"})
    assert [r["id"] for r in only.json()] == [denied]
    assert (await api.http.get("/requests", params={"status": "odd"})).status_code == 422


# -- an agent's request into the inbox ----------------------------------------------------


async def test_agent_request_never_runs_even_a_low_risk_tool(api: Api) -> None:
    response = await api.http.post(
        "/request",
        json={"tool_name": "git_status", "args": {}, "reason": "look", "requester": "daena"},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending_approval" and body["requester"] == "daena"
    assert await api.eng.audit.count(AuditFilter(tool="git_status", action="run")) == 0
    request_id = body["approval_request_id"]
    assert [r["id"] for r in (await api.http.get("/approvals")).json()] == [request_id]
    approved = await api.http.post(f"/approvals/{request_id}", json={"decision": "approve"})
    assert approved.status_code == 200  # api:op@test is not the requester "daena"
    assert approved.json()["run"]["status"] == "ok"


async def test_a_request_made_under_the_operators_name_cannot_be_approved_by_it(
    api: Api,
) -> None:
    body = {"tool_name": "git_status", "requester": "api:op@test"}
    request_id = (await api.http.post("/request", json=body)).json()["approval_request_id"]
    response = await api.http.post(
        f"/approvals/{request_id}", json={"decision": "approve"}, headers={"X-Operator": "daena"}
    )
    assert response.status_code == 403 and response.json()["error"] == "own_request"
    assert (await api.eng.approvals.get(request_id)).status == "pending"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"tool_name": "nope"}, 404),
        ({"tool_name": "filesystem_write", "args": {"path": "a", "content": "b"}}, 403),
        ({"tool_name": "filesystem_read", "args": {"path": "../../etc/passwd"}}, 403),
        ({"tool_name": "filesystem_read", "args": {}}, 422),
        ({"tool_name": "git_status", "requester": "bad name!"}, 422),
        ({"tool_name": "git_status", "requester": ""}, 422),
    ],
)
async def test_agent_request_refusals(api: Api, body: dict[str, object], status: int) -> None:
    response = await api.http.post("/request", json=body)
    assert response.status_code == status, response.text
    assert (await api.http.get("/approvals")).json() == []


async def test_agent_request_during_lockdown_is_423(api: Api) -> None:
    await api.set_config(lockdown=True)
    response = await api.http.post("/request", json={"tool_name": "git_status"})
    assert response.status_code == 423


# -- tasks --------------------------------------------------------------------------------


async def test_task_from_playbook_create_list_show(api: Api) -> None:
    response = await api.http.post("/tasks", json={"playbook": "inspect_repo"})
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["status"] == "pending" and task["source"] == "playbook:inspect_repo"
    assert task["created_by"] == "api:op@test"
    listed = (await api.http.get("/tasks")).json()
    assert [t["id"] for t in listed] == [task["id"]]
    shown = await api.http.get(f"/tasks/{task['id']}")
    assert shown.status_code == 200 and len(shown.json()["steps"]) == 3


async def test_task_run_in_background_completes(api: Api) -> None:
    response = await api.http.post("/tasks", json={"playbook": "inspect_repo", "run": True})
    assert response.status_code == 202
    await api.app.state.api.wait_background()
    task = (await api.http.get(f"/tasks/{response.json()['id']}")).json()
    assert task["status"] == "completed", task
    again = await api.http.post(f"/tasks/{task['id']}/run")
    assert again.status_code == 409


async def test_task_cancel(api: Api) -> None:
    task = (await api.http.post("/tasks", json={"playbook": "inspect_repo"})).json()
    response = await api.http.post(f"/tasks/{task['id']}/cancel", json={"reason": "not today"})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert (await api.http.post(f"/tasks/{task['id']}/cancel")).status_code == 409


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({}, 422, "playbook: give exactly one"),
        ({"playbook": "inspect_repo", "goal": "x", "variables": {"a": "b"}}, 422, ""),
        ({"goal": "look around", "variables": {"a": "b"}}, 422, "variables: "),
        ({"playbook": "no_such_playbook"}, 404, "playbook: "),
        ({"playbook": "inspect_repo", "max_steps": 0}, 422, "max_steps: "),
        ({"playbook": "run_tests", "variables": {"path": 5}}, 422, "variables.path: "),
    ],
)
async def test_task_create_errors(
    api: Api, body: dict[str, object], status: int, detail: str
) -> None:
    response = await api.http.post("/tasks", json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(detail)


async def test_missing_task_is_404(api: Api) -> None:
    for method, path in (
        ("GET", "/tasks/task_missing"),
        ("POST", "/tasks/task_missing/run"),
        ("POST", "/tasks/task_missing/resume"),
        ("POST", "/tasks/task_missing/cancel"),
    ):
        response = await api.http.request(method, path)
        assert response.status_code == 404, (method, path)
    assert (await api.http.get("/tasks", params={"status": "odd"})).status_code == 422


# -- app plumbing -------------------------------------------------------------------------


async def test_unknown_route_and_method_are_json(api: Api) -> None:
    missing = await api.http.get("/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_route"
    wrong = await api.http.delete("/tools")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


async def test_a_bug_is_a_json_500_without_internals(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.eng, "list_tools", broken)
    async with api.client(raise_app_exceptions=False, refuse_errors=False) as http:
        response = await http.get("/tools")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "internal error in the API; see the server's log",
        "error": "internal_error",
    }


async def test_openapi_document_lists_the_routes(api: Api) -> None:
    response = await api.http.get("/openapi.json")
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    for route in ("/tools", "/run", "/approve", "/logs", "/config", "/node/health", "/request"):
        assert API_PREFIX + route in paths
    scheme = response.json()["components"]["securitySchemes"]["ExecutionToken"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-Execution-Token"}


async def test_lifespan_opens_and_closes_the_engine(api_settings: Settings) -> None:
    app = create_api(api_settings)
    async with app.router.lifespan_context(app):
        assert app.state.api.engine is not None
        async with api_client(app) as http:
            response = await http.get("/tools")
            assert response.status_code == 200
    assert app.state.api.engine is None
    async with api_client(app, refuse_errors=False) as http:
        closed = await http.get("/tools")
    assert closed.status_code == 503 and closed.json()["error"] == "not_ready"


async def test_api_actions_are_in_the_shared_database(api: Api, api_settings: Settings) -> None:
    """Another process (here: a second engine on the same file) sees what the API did."""
    await api.run("shell_exec", {"command": "git status"}, requester="daena")
    async with Engine.open(api_settings) as other:
        pending = await other.approvals.list("pending")
        assert [r.requester for r in pending] == ["daena"]
        events = await other.db.events_after(0)
        assert any(row["kind"] == "ApprovalRequested" for row in events)


def test_json_shapes_are_plain_json(api_settings: Settings) -> None:
    """Every request model refuses unknown fields, so its schema says so."""
    app = create_api(api_settings)
    schemas = app.openapi()["components"]["schemas"]
    for name in ("RunBody", "ConfigPatch", "DecisionBody", "InboxRequestBody", "TaskCreateBody"):
        assert schemas[name]["additionalProperties"] is False, name
    json.dumps(app.openapi())


async def test_token_is_sent_by_the_fixture_client(api: Api) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app), base_url="http://127.0.0.1"
    ) as bare:
        assert (await bare.get(API_PREFIX + "/tools")).status_code == 401
    assert TOKEN in api.http.headers.values()
