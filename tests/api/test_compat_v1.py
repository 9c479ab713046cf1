"""`/api/v1/execution/*` answers as the original did (compat/original_api.md), driven over
real HTTP against `daena serve` the way the original's clients call it: every route of the
contract's table, its envelope keys and types, its status codes, the dashboard card's reads,
and where ours deliberately differs (a readable `detail` in the original's envelope).

One `daena serve` (subprocess, loopback, operator token plus an agent token) serves the
module; a test that changes the config puts it back.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine import Engine
from tests.api.compat_support import Served, mint_agent_token, original_node, served_with
from tests.conftest import make_settings

TOKEN = "compat-operator-token-0123456789"
OP = {"X-Execution-Token": TOKEN}
TOKEN_ROUTES = [
    ("GET", "/tools"),
    ("POST", "/approve?tool_name=git_status"),
    ("POST", "/run"),
    ("GET", "/logs"),
    ("GET", "/config"),
    ("PATCH", "/config"),
    ("PATCH", "/tools/git_status/enabled?enabled=true"),
    ("GET", "/node/health"),
    ("GET", "/node/config"),
    ("POST", "/node/config"),
    ("POST", "/tasks"),
    ("GET", "/tasks"),
    ("GET", "/tasks/task_x"),
    ("GET", "/approvals"),
    ("GET", "/requests"),
    ("POST", "/request"),
    ("POST", "/approvals/exr_x"),
    ("POST", "/tasks/task_x/run"),
    ("GET", "/tasks/task_x/artifacts"),
    ("GET", "/tasks/task_x/artifacts/a.txt"),
]


@pytest.fixture(scope="module")
def node_url() -> Iterator[str]:
    with original_node() as url:
        yield url


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, node_url: str, backend: str
) -> Iterator[tuple[Served, str]]:
    """A served API on the variant's backend (`backend`: built again for the other one)."""
    env = {"EXECUTION_TOKEN": TOKEN, "WINDOWS_NODE_URL": node_url, "DAENA_OPERATOR": "op@test"}
    with served_with(tmp_path_factory.mktemp("compat"), env, agent="bot") as (served, agent):
        assert agent is not None
        yield served, agent


@pytest.fixture
def served(server: tuple[Served, str]) -> Served:
    return server[0]


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    """The dashboard's client: the token in `X-Execution-Token` on every call."""
    with httpx.Client(base_url=served.v1, headers=OP, timeout=60) as client:
        yield client


@pytest.fixture
def agent(server: tuple[Served, str]) -> Iterator[httpx.Client]:
    served, token = server
    with httpx.Client(
        base_url=served.v1, headers={"X-Execution-Token": token}, timeout=60
    ) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def set_config(http: httpx.Client, **changes: Any) -> None:
    ok(http.patch("/config", json=changes))


# -- §2 authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), TOKEN_ROUTES)
def test_every_token_route_is_401_with_a_detail_without_a_credential(
    served: Served, method: str, path: str
) -> None:
    """Including /logs, PATCH /config and /request, which the original left open."""
    response = httpx.request(method, served.v1 + path, json={}, timeout=30)
    assert response.status_code == 401, response.text
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
    wrong = httpx.request(
        method, served.v1 + path, json={}, headers={"X-Execution-Token": "nope"}, timeout=30
    )
    assert wrong.status_code == 401
    assert "X-Execution-Token" in wrong.json()["detail"]


def test_auth_status_is_open_and_says_a_token_is_needed(served: Served) -> None:
    body = ok(httpx.get(served.v1 + "/auth-status", timeout=30))
    assert body == {
        "success": True,
        "execution_enabled": True,
        "localhost_bypass": False,
        "token_required_for_ui": True,
        "cookie_supported": True,
        "message": body["message"],
    }
    assert "token" in body["message"].lower()


def test_health_on_the_root_is_open(served: Served) -> None:
    assert ok(httpx.get(served.root + "/health", timeout=30))["status"] == "ok"


def test_token_cookie_sets_the_original_cookie_and_then_authenticates(served: Served) -> None:
    with httpx.Client(base_url=served.v1, timeout=30) as browser:
        wrong = browser.post("/token-cookie", json={"token": "guess"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "Invalid token."
        assert "set-cookie" not in wrong.headers
        response = browser.post("/token-cookie", json={"token": TOKEN})
        body = ok(response)
        assert body["success"] is True and isinstance(body["message"], str)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"daena_execution_token={TOKEN};")
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=lax" in lowered
        assert "max-age=604800" in lowered and "path=/" in lowered
        assert "secure" not in lowered  # plain http on loopback
        tools = ok(browser.get("/tools"))  # the cookie alone, no header
        assert tools["success"] is True and tools["tools"]
        # The typed API reads the header only: the cookie is no credential there.
        assert browser.get(served.root + "/api/v2/tools").status_code == 401


def test_an_agent_tokens_cookie_is_that_agent_never_the_operator(
    server: tuple[Served, str],
) -> None:
    """The cookie carries the token it was minted from: same credential, same role; an
    X-Operator header adds nothing."""
    served, token = server
    with httpx.Client(base_url=served.v1, timeout=30) as browser:
        ok(browser.post("/token-cookie", json={"token": token}))
        assert ok(browser.get("/tools"))["success"] is True
        for method, path in [
            ("GET", "/config"),
            ("PATCH", "/config"),
            ("POST", "/approve?tool_name=shell_exec"),
            ("PATCH", "/tools/apply_patch/enabled?enabled=true"),
            ("POST", "/node/config"),
            ("GET", "/tasks"),
        ]:
            response = browser.request(
                method, path, json={"approval_mode": "auto"}, headers={"X-Operator": "op@test"}
            )
            assert response.status_code == 403, (method, path, response.text)
            assert "operator only" in response.json()["detail"]
        run = ok(browser.post("/run", json={"tool_name": "git_status", "dry_run": True}))
        assert run["success"] is True
        logs = ok(browser.get("/logs", params={"limit": 5}))["logs"]
        assert logs and all(entry["agent_id"] == "bot" for entry in logs)


def test_x_operator_header_has_no_power(http: httpx.Client, agent: httpx.Client) -> None:
    response = agent.post(
        "/approve", params={"tool_name": "shell_exec"}, headers={"X-Operator": "op@test"}
    )
    assert response.status_code == 403
    # With the operator token the header changes no name either.
    body = ok(http.post("/run", json={"tool_name": "git_status"}, headers={"X-Operator": "eve"}))
    entry = ok(http.get("/logs", params={"limit": 1}))["logs"][0]
    assert entry["audit_id"] == body["audit_id"] and entry["actor"] == "api:op@test"


# -- §3 routes -------------------------------------------------------------------------------


def test_tools_envelope_and_item_fields(http: httpx.Client) -> None:
    body = ok(http.get("/tools"))
    assert set(body) == {"success", "tools"} and body["success"] is True
    names = [t["name"] for t in body["tools"]]
    assert names[:3] == ["git_status", "git_diff", "filesystem_read"]
    assert {"apply_patch", "shell_exec", "filesystem_write"} <= set(names)
    for tool in body["tools"]:
        assert set(tool) == {"name", "description", "optional_dependency", "enabled"}
        assert isinstance(tool["description"], str) and isinstance(tool["enabled"], bool)
    by_name = {t["name"]: t["enabled"] for t in body["tools"]}
    assert by_name["git_status"] is True and by_name["apply_patch"] is False


def test_approve_low_risk_risky_missing_and_unknown(http: httpx.Client) -> None:
    low = ok(http.post("/approve", params={"tool_name": "git_status"}))
    assert low == {
        "success": True,
        "approval_id": None,
        "message": "Tool is low-risk, no approval needed",
    }
    risky = ok(http.post("/approve", params={"tool_name": "apply_patch"}))
    assert set(risky) == {"success", "approval_id", "tool_name", "ttl_seconds"}
    assert isinstance(risky["approval_id"], str) and risky["approval_id"]
    assert risky["tool_name"] == "apply_patch" and risky["ttl_seconds"] == 300
    missing = http.post("/approve")
    assert missing.status_code == 422
    detail = missing.json()["detail"]
    assert isinstance(detail, list) and detail[0]["loc"] == ["query", "tool_name"]
    unknown = http.post("/approve", params={"tool_name": "consult_ui"})
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Unknown tool: consult_ui"


def test_run_dry_and_real_git_status_in_the_original_shapes(http: httpx.Client) -> None:
    dry = ok(http.post("/run", json={"tool_name": "git_status", "args": {}, "dry_run": True}))
    assert set(dry) == {"success", "status", "result", "error", "audit_id", "trace_id", "dry_run"}
    assert dry["success"] is True and dry["status"] == "ok" and dry["dry_run"] is True
    assert dry["result"] == {"dry_run": True, "tool": "git_status", "args_summary": {}}
    assert isinstance(dry["audit_id"], int) and isinstance(dry["trace_id"], str)
    real = ok(http.post("/run", json={"tool_name": "git_status", "args": {}, "dry_run": False}))
    assert real["success"] is True and real["status"] == "ok" and real["dry_run"] is False
    assert set(real["result"]) == {"stdout", "stderr", "returncode"}
    assert "?? notes.txt" in real["result"]["stdout"] and real["result"]["returncode"] == 0
    assert real["error"] is None


def test_run_accepts_the_originals_extra_fields_and_aliases(
    http: httpx.Client, served: Served
) -> None:
    body = {
        "tool_name": "filesystem_read",
        "args": {"file": "notes.txt"},
        "department": "eng",
        "agent_id": "dashboard",
        "reason": "show the notes",
    }
    read = ok(http.post("/run", json=body))
    assert read["status"] == "ok"
    assert read["result"] == {
        "path": str(served.workspace.resolve() / "notes.txt"),
        "content": "hello from the workspace\n",
    }
    root = ok(http.post("/run", json={"tool_name": "git_status", "args": {"cwd": "."}}))
    assert root["status"] == "ok"


def test_tool_level_failures_are_200_with_success_false(http: httpx.Client) -> None:
    unknown = ok(http.post("/run", json={"tool_name": "consult_ui"}))
    assert unknown["success"] is False and unknown["status"] == "error"
    assert unknown["error"] == "unknown tool: consult_ui"
    disabled = ok(http.post("/run", json={"tool_name": "apply_patch", "dry_run": True}))
    assert disabled["status"] == "error" and disabled["error"] == "tool disabled"
    assert disabled["dry_run"] is True  # the v2 smoke script prints exactly this
    empty = ok(http.post("/run", json={"tool_name": "filesystem_read", "args": {}}))
    assert empty["success"] is False and "path" in empty["error"]


def test_deliberate_refusals_answer_the_envelope_with_a_detail(http: httpx.Client) -> None:
    """Outside the workspace (the original served a sibling with the same prefix) and a
    shell command with `;` (the original ran it through a shell) are 403."""
    sibling = http.post(
        "/run", json={"tool_name": "filesystem_read", "args": {"path": "../ws-secret/x.txt"}}
    )
    assert sibling.status_code == 403
    body = sibling.json()
    assert body["success"] is False and body["status"] == "error"
    assert "sibling secret" not in sibling.text and body["detail"].startswith("Refused: ")
    chained = http.post("/run", json={"tool_name": "shell_exec", "args": {"cmd": "git status; id"}})
    assert chained.status_code == 403 and chained.json()["success"] is False
    assert isinstance(chained.json()["detail"], str)
    cwd = http.post("/run", json={"tool_name": "git_status", "args": {"cwd": "/"}})
    assert cwd.status_code == 403 and "cwd" in cwd.json()["detail"]


def test_approval_gate_single_use_and_bound_to_the_tool(http: httpx.Client) -> None:
    set_config(http, approval_mode="require_approval", require_approval_for_risky=True)
    try:
        run = {"tool_name": "shell_exec", "args": {"command": "git status"}}
        refused = http.post("/run", json=run)
        assert refused.status_code == 403
        assert refused.json()["detail"].startswith("Risky tool requires approval")
        assert refused.json()["success"] is False
        grant = ok(http.post("/approve", params={"tool_name": "shell_exec"}))["approval_id"]
        passed = ok(http.post("/run", json={**run, "approval_id": grant}))
        assert passed["status"] == "ok" and passed["result"]["returncode"] == 0
        again = http.post("/run", json={**run, "approval_id": grant})
        assert again.status_code == 403  # single use
        other = ok(http.post("/approve", params={"tool_name": "web_scrape_bs4"}))["approval_id"]
        assert http.post("/run", json={**run, "approval_id": other}).status_code == 403
    finally:
        set_config(http, approval_mode="auto")


def test_lockdown_is_423_on_run_decisions_and_task_runs_and_tools_still_answer(
    http: httpx.Client, served: Served
) -> None:
    v2 = {"X-Execution-Token": TOKEN}
    rid = ok(http.post("/request", json={"tool_name": "git_status"}))["request_id"]
    task_id = ok(http.post("/tasks", json={"goal": "while locked"}))["task_id"]
    ok(httpx.patch(served.root + "/api/v2/config", json={"lockdown": True}, headers=v2))
    try:
        locked = http.post("/run", json={"tool_name": "git_status"})
        assert locked.status_code == 423
        assert locked.json()["detail"].startswith(
            "Execution blocked: system is in security lockdown"
        )
        assert ok(http.get("/tools"))["success"] is True
        asking = http.post("/request", json={"tool_name": "git_status"})
        assert asking.status_code == 423  # ours: nothing is even asked for while locked
        decide = http.post(f"/approvals/{rid}", json={"approved": True})
        assert decide.status_code == 423, decide.text
        step = http.post(f"/tasks/{task_id}/run")
        assert step.status_code == 423 and "lockdown" in step.json()["detail"]
    finally:
        ok(httpx.patch(served.root + "/api/v2/config", json={"lockdown": False}, headers=v2))


def test_logs_entries_newest_first_with_the_original_fields(http: httpx.Client) -> None:
    run = ok(http.post("/run", json={"tool_name": "git_status", "args": {}}))
    body = ok(http.get("/logs", params={"limit": 5}))
    # The original's fields, plus `truncated` (ours: a capped list says so)
    assert set(body) == {"success", "logs", "count", "truncated"}
    assert body["count"] == len(body["logs"])
    first = body["logs"][0]
    assert first["audit_id"] == run["audit_id"] and first["trace_id"] == run["trace_id"]
    assert first["tool_name"] == "git_status" and first["status"] == "ok"
    assert isinstance(first["ts"], float) and first["ts"] > 1.6e9  # epoch seconds
    keys = {"audit_id", "ts", "tool_name", "department", "agent_id", "reason", "status"}
    assert keys | {"trace_id", "duration_ms", "error", "args"} <= set(first)
    ids = [entry["audit_id"] for entry in body["logs"]]
    assert ids == sorted(ids, reverse=True)
    for bad in ("0", "-1", "100000"):  # bounded (the original returned the whole log)
        response = http.get("/logs", params={"limit": bad})
        assert response.status_code == 422 and isinstance(response.json()["detail"], list)


def test_config_get_and_patch_validated(http: httpx.Client) -> None:
    body = ok(http.get("/config"))
    assert set(body) == {"success", "config"}
    config = body["config"]
    assert set(config) == {
        "tool_enabled",
        "approval_mode",
        "require_approval_for_risky",
        "max_steps_per_run",
        "max_retries_per_tool",
        "dry_run_default",
    }
    assert config["tool_enabled"]["git_status"] is True
    assert config["approval_mode"] in ("auto", "require_approval")
    assert isinstance(config["max_steps_per_run"], int)
    assert ok(http.patch("/config", json={}))["config"] == config
    changed = ok(http.patch("/config", json={"max_retries_per_tool": 4}))["config"]
    assert changed["max_retries_per_tool"] == 4
    for bad in ({"approval_mode": "banana"}, {"max_steps_per_run": -5}):
        response = http.patch("/config", json=bad)
        assert response.status_code == 422 and isinstance(response.json()["detail"], list)
    assert ok(http.get("/config"))["config"]["approval_mode"] == config["approval_mode"]
    assert ok(http.get("/config"))["config"]["max_steps_per_run"] == config["max_steps_per_run"]
    set_config(http, max_retries_per_tool=config["max_retries_per_tool"])


def test_tool_toggle_by_query_as_the_dashboard_sends_it(http: httpx.Client) -> None:
    off = http.patch("/tools/web_scrape_bs4/enabled?enabled=false")  # no body at all
    assert ok(off) == {"success": True, "tool_name": "web_scrape_bs4", "enabled": False}
    tools = {t["name"]: t["enabled"] for t in ok(http.get("/tools"))["tools"]}
    assert tools["web_scrape_bs4"] is False
    on = ok(http.patch("/tools/web_scrape_bs4/enabled", params={"enabled": "true"}))
    assert on["enabled"] is True
    unknown = http.patch("/tools/made_up/enabled", params={"enabled": "true"})
    assert unknown.status_code == 404 and "made_up" in unknown.json()["detail"]
    assert "made_up" not in ok(http.get("/config"))["config"]["tool_enabled"]
    assert http.patch("/tools/git_status/enabled").status_code == 422


def test_node_health_of_the_original_node_is_ok(http: httpx.Client) -> None:
    body = ok(http.get("/node/health"))
    assert body["success"] is True and body["node"]["status"] == "ok"
    assert body["node"]["workspace_root"] == "/srv/original-ws"
    assert body["node"]["version"] is None  # unknown, not made up


def test_node_config_get_post_trimmed_token_never_shown(http: httpx.Client, node_url: str) -> None:
    body = ok(http.get("/node/config"))
    assert body == {"success": True, "url": node_url, "has_token": False}
    secret = "node-secret-token-xyz"
    set_ = ok(http.post("/node/config", json={"url": f"  {node_url}  ", "token": f" {secret} "}))
    assert set_ == {"success": True, "url": node_url, "has_token": True}
    assert secret not in http.get("/node/config").text
    cleared = ok(http.post("/node/config", json={"token": ""}))
    assert cleared["has_token"] is False and cleared["url"] == node_url


def test_request_broker_approvals_and_decisions(http: httpx.Client) -> None:
    asked = ok(
        http.post(
            "/request",
            json={
                "tool_name": "git_diff",
                "args": {},
                "reason": "see the diff",
                "risk_score_estimate": 0.2,
                "agent_id": "helper",
                "department": "eng",
            },
        )
    )
    assert set(asked) == {"success", "request_id", "status", "message"}
    assert asked["success"] is True and asked["status"] == "pending"
    rid = asked["request_id"]
    assert rid.startswith("exr_")
    pending = ok(http.get("/approvals"))
    # The original's fields, plus `total` and `truncated` (ours: a capped list says so)
    assert set(pending) == {"success", "approvals", "total", "truncated"}
    assert pending["total"] == len(pending["approvals"]) and pending["truncated"] is False
    record = next(r for r in pending["approvals"] if r["approval_request_id"] == rid)
    assert record["id"] == rid and record["request_type"] == "execution_request"
    assert record["tool_name"] == "git_diff" and record["status"] == "pending"
    assert record["agent_id"] == "helper" and isinstance(record["created_at"], float)
    # the operator token's agent_id is a label, never an agent credential's identity
    assert record["requester"] == "v1-agent:helper"
    listed = ok(http.get("/requests", params={"limit": 10}))["requests"]
    assert listed[0]["approval_request_id"] == rid
    decided = ok(http.post(f"/approvals/{rid}", json={"approved": True}))
    assert decided["success"] is True and decided["approval_request_id"] == rid
    assert decided["approved"] is True
    assert decided["execution_result"]["status"] == "ok"
    assert set(decided["execution_result"]["result"]) == {"stdout", "stderr", "returncode"}
    twice = http.post(f"/approvals/{rid}", json={"approved": True})  # no second run
    assert twice.status_code == 409 and isinstance(twice.json()["detail"], str)
    assert all(r["approval_request_id"] != rid for r in ok(http.get("/approvals"))["approvals"])
    other = ok(http.post("/request", json={"tool_name": "git_status"}))["request_id"]
    denied = ok(http.post(f"/approvals/{other}", json={"approved": False}))
    assert denied == {"success": True, "approval_request_id": other, "approved": False}
    assert http.post(f"/approvals/{other}", json={}).status_code == 409
    missing = http.post("/approvals/exr_missing", json={"approved": True})
    assert missing.status_code == 404 and missing.json()["detail"] == "Approval request not found"
    assert http.post(f"/approvals/{rid}").status_code == 422  # the body is required


def test_request_refusals_as_the_original(http: httpx.Client) -> None:
    unknown = http.post("/request", json={"tool_name": "consult_ui"})
    assert unknown.status_code == 400 and unknown.json()["detail"] == "Unknown tool: consult_ui"
    for forbidden in ("shell_exec", "filesystem_write"):
        response = http.post("/request", json={"tool_name": forbidden})
        assert response.status_code == 403 and forbidden in response.json()["detail"]


def test_tasks_create_list_get_and_404(http: httpx.Client) -> None:
    created = ok(http.post("/tasks", json={"goal": "check the repo", "max_steps": 5}))
    assert set(created) == {"success", "task_id"}
    task_id = created["task_id"]
    assert task_id.startswith("task_")
    task = ok(http.get(f"/tasks/{task_id}"))["task"]
    for key, kind in [
        ("task_id", str),
        ("goal", str),
        ("status", str),
        ("step_count", int),
        ("max_steps", int),
        ("max_retries", int),
        ("required_approvals", list),
        ("artifacts", list),
        ("created_at", float),
        ("updated_at", float),
    ]:
        assert isinstance(task[key], kind), key
    assert task["goal"] == "check the repo" and task["status"] == "pending"
    assert task["max_steps"] == 5 and task["max_retries"] == 3 and task["step_count"] == 0
    listed = ok(http.get("/tasks", params={"limit": 10}))["tasks"]
    assert listed[0]["task_id"] == task_id
    missing = http.get("/tasks/task_nope")
    assert missing.status_code == 404 and missing.json()["detail"] == "Task not found"
    assert http.post("/tasks", json={}).status_code == 422


def test_running_a_planner_task_without_ollama_says_why(http: httpx.Client) -> None:
    task_id = ok(http.post("/tasks", json={"goal": "run the tests"}))["task_id"]
    body = ok(http.post(f"/tasks/{task_id}/run"))
    assert body["success"] is False and body["task"]["status"] == "failed"
    assert body["task"]["reason"] and body["error"].startswith("the task is failed: ")
    again = ok(http.post(f"/tasks/{task_id}/run"))
    assert again["message"].startswith("Task completed or no more steps")
    assert http.post("/tasks/task_nope/run").status_code == 404


def test_task_artifacts_and_file_names_refused(http: httpx.Client) -> None:
    task_id = ok(http.post("/tasks", json={"goal": "look around"}))["task_id"]
    listed = ok(http.get(f"/tasks/{task_id}/artifacts"))
    assert listed == {"success": True, "task_id": task_id, "artifacts": []}
    for name in ("%2E%2E", "a..b", "x%2Fy", "x%5Cy", "..%2F..%2Fetc%2Fpasswd"):
        response = http.get(f"/tasks/{task_id}/artifacts/{name}")
        assert response.status_code == 400, (name, response.text)
    assert http.get(f"/tasks/{task_id}/artifacts/none.txt").status_code == 404
    assert http.get("/tasks/task_nope/artifacts").status_code == 404


# -- §11 the dashboard card's reads -----------------------------------------------------------


def test_the_dashboard_cards_reads(http: httpx.Client) -> None:
    tools = ok(http.get("/tools"))["tools"]
    enabled = [t["name"] for t in tools if t["enabled"]]
    assert "git_status" in enabled
    for name in enabled[:3]:  # the Run button: {tool_name, args: {}, dry_run: true}
        raw = http.post("/run", json={"tool_name": name, "args": {}, "dry_run": True})
        assert raw.status_code == 200 and isinstance(raw.json()["success"], bool)
    logs = ok(http.get("/logs", params={"limit": 5}))["logs"]
    assert 0 < len(logs) <= 5
    for entry in logs:
        assert isinstance(entry["tool_name"], str) and isinstance(entry["status"], str)
        assert isinstance(entry["ts"], float)
    config = ok(http.get("/config"))["config"]
    assert config["approval_mode"] in ("auto", "require_approval")
    assert isinstance(config["max_steps_per_run"], int)
    assert isinstance(config["max_retries_per_tool"], int)
    node = ok(http.get("/node/health"))
    assert node["success"] is True and node["node"]["status"] == "ok"
    ok(http.post("/tasks", json={"goal": "dashboard task"}))
    tasks = ok(http.get("/tasks", params={"limit": 10}))["tasks"]
    assert all({"goal", "task_id", "status"} <= set(t) for t in tasks) and tasks
    ok(http.post("/request", json={"tool_name": "git_status"}))
    approvals = ok(http.get("/approvals"))["approvals"]
    assert approvals and all("id" in a and "approval_request_id" in a for a in approvals)


def test_a_401_body_is_what_the_dashboard_shows(served: Served) -> None:
    response = httpx.get(served.v1 + "/tools", headers={"X-Execution-Token": "stale"})
    assert response.status_code == 401
    assert re.search(r"X-Execution-Token", response.json()["detail"])


# -- the agent credential on v1 -------------------------------------------------------------


def test_an_agent_token_runs_and_requests_as_itself(agent: httpx.Client) -> None:
    run = ok(agent.post("/run", json={"tool_name": "git_status", "agent_id": "bot"}))
    assert run["status"] == "ok"
    other = agent.post("/run", json={"tool_name": "git_status", "agent_id": "root"})
    assert other.status_code == 403 and "agent_id" in other.json()["detail"]
    rid = ok(agent.post("/request", json={"tool_name": "git_diff"}))["request_id"]
    mine = ok(agent.get("/approvals"))["approvals"]
    assert [r["approval_request_id"] for r in mine] == [rid]
    assert mine[0]["agent_id"] == "bot"
    decide = agent.post(f"/approvals/{rid}", json={"approved": True})
    assert decide.status_code == 403  # deciding is the operator's


# -- both prefixes ---------------------------------------------------------------------------


def test_unknown_route_is_404_and_v2_is_still_typed(served: Served) -> None:
    assert httpx.get(served.v1 + "/nope", headers=OP).status_code == 404
    v2 = httpx.get(served.root + "/api/v2/tools", headers=OP)
    assert v2.status_code == 200 and isinstance(v2.json(), list) and "risk" in v2.json()[0]


def test_a_cross_site_request_carrying_the_cookie_is_refused(served: Served) -> None:
    """SameSite=lax still sends the cookie on some cross-site requests; the guard refuses
    any request a browser marks as coming from another site, so the cookie is no CSRF
    handle."""
    with httpx.Client(base_url=served.v1, timeout=30) as browser:
        ok(browser.post("/token-cookie", json={"token": TOKEN}))
        before = ok(browser.get("/logs", params={"limit": 1}))["logs"]
        evil = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
        response = browser.post("/run", json={"tool_name": "git_status"}, headers=evil)
        assert response.status_code == 403 and "cross-site" in response.json()["detail"]
        minted = browser.post("/token-cookie", json={"token": TOKEN}, headers=evil)
        assert minted.status_code == 403
        assert ok(browser.get("/logs", params={"limit": 1}))["logs"] == before


def test_a_revoked_agent_tokens_cookie_stops_working(served: Served) -> None:
    token = mint_agent_token(served.workspace, served.db, "temp", {})
    with httpx.Client(base_url=served.v1, timeout=30) as browser:
        ok(browser.post("/token-cookie", json={"token": token}))
        assert ok(browser.get("/tools"))["success"] is True
        revoke_agent(served, "temp")
        refused = browser.get("/tools")
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        again = browser.post("/token-cookie", json={"token": token})
        assert again.status_code == 401 and again.json()["detail"] == "Invalid token."


def revoke_agent(served: Served, name: str) -> None:
    async def revoke() -> None:
        async with Engine.open(make_settings(served.workspace, served.db)) as eng:
            await eng.credentials.revoke(name, operator="op@test")

    asyncio.run(revoke())
