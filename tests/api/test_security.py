"""docs/security.md: the API's guard and the attacks an operator would worry about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from daena_tui.api import TOKEN_HEADER, create_api
from daena_tui.api import V2_PREFIX as API_PREFIX
from engine import AuditFilter, ConfigError, Engine, Settings
from tests.api.conftest import BASE_URL, TOKEN, Api, api_client
from tests.conftest import make_settings

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/tools", None),
    ("POST", "/run", {"tool_name": "git_status"}),
    ("POST", "/approve?tool_name=shell_exec", None),
    ("GET", "/logs", None),
    ("GET", "/config", None),
    ("PATCH", "/config", {"lockdown": True}),
    ("PATCH", "/tools/git_status/enabled", {"enabled": False}),
    ("GET", "/node/health", None),
    ("GET", "/node/config", None),
    ("POST", "/node/config", {"url": "http://127.0.0.1:9"}),
    ("GET", "/tasks", None),
    ("POST", "/tasks", {"playbook": "inspect_repo"}),
    ("GET", "/tasks/task_x", None),
    ("GET", "/approvals", None),
    ("POST", "/approvals/req_x", {"decision": "approve"}),
    ("GET", "/requests", None),
    ("POST", "/request", {"tool_name": "git_status"}),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
    ("GET", "/no-such-route", None),
]


async def assert_all_refused(
    http: httpx.AsyncClient, status: int = 401, headers: dict[str, bytes] | None = None
) -> None:
    for method, path, body in ROUTES:
        response = await http.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (method, path, response.text)
        assert response.json()["error"] in ("unauthorized", "forbidden_host", "forbidden_origin")


async def assert_nothing_happened(api: Api) -> None:
    config = await api.eng.config()
    assert config.lockdown is False and config.enabled("git_status", True) is True
    assert await api.eng.audit.count(AuditFilter(action="run")) == 0
    assert await api.eng.audit.count(AuditFilter(action="grant")) == 0


async def test_no_token_is_401_on_every_route(api: Api) -> None:
    async with api.client(token=None) as http:
        await assert_all_refused(http)
    await assert_nothing_happened(api)


@pytest.mark.parametrize(
    "wrong", ["", "x", TOKEN[:-1], TOKEN + "0", TOKEN.upper(), " " + TOKEN, "ä" + TOKEN[1:]]
)
async def test_wrong_token_is_401_on_every_route(api: Api, wrong: str) -> None:
    async with api.client(token=None) as http:
        await assert_all_refused(http, headers={TOKEN_HEADER: wrong.encode("utf-8")})
    await assert_nothing_happened(api)


async def test_token_in_query_string_or_cookie_or_other_header_is_ignored(api: Api) -> None:
    async with api.client(token=None) as http:
        for params in ({"token": TOKEN}, {TOKEN_HEADER: TOKEN}, {"execution_token": TOKEN}):
            response = await http.get("/tools", params=params)
            assert response.status_code == 401
        http.cookies.set(TOKEN_HEADER, TOKEN)
        assert (await http.get("/tools")).status_code == 401
        auth = await http.get("/tools", headers={"Authorization": f"Bearer {TOKEN}"})
        assert auth.status_code == 401


async def test_header_name_is_case_insensitive(api: Api) -> None:
    async with api.client(token=None, headers={"x-execution-token": TOKEN}) as http:
        assert (await http.get("/tools")).status_code == 200


async def test_without_execution_token_every_route_is_401(
    api_workspace: Path, tmp_path: Path
) -> None:
    settings = make_settings(api_workspace, tmp_path / "db" / "daena.db")
    async with Engine.open(settings) as eng:
        app = create_api(eng)
        async with api_client(app, token="anything") as http:
            await assert_all_refused(http)
        async with api_client(app, token=None) as http:
            response = await http.get("/tools")
            assert response.status_code == 401
            assert "EXECUTION_TOKEN is not set" in response.json()["detail"]


async def test_insecure_local_allows_no_token_on_loopback_only(
    api_workspace: Path, tmp_path: Path
) -> None:
    settings = make_settings(api_workspace, tmp_path / "db" / "daena.db")
    async with Engine.open(settings) as eng:
        app = create_api(eng, insecure_local=True, bind_host="127.0.0.1")
        async with api_client(app, token=None) as http:
            assert (await http.get("/tools")).status_code == 200
        for host in ("0.0.0.0", "192.168.1.10", "::", "example.com"):
            with pytest.raises(ConfigError, match="--insecure-local"):
                create_api(eng, insecure_local=True, bind_host=host)
        assert create_api(eng, insecure_local=True, bind_host="::1") is not None


async def test_insecure_local_still_refuses_a_declared_oversized_body(
    api_workspace: Path, tmp_path: Path
) -> None:
    settings = make_settings(api_workspace, tmp_path / "db" / "daena.db")
    async with Engine.open(settings) as eng:
        app = create_api(eng, insecure_local=True, max_body_bytes=1024)
        async with api_client(app, token=None) as http:
            big = {"tool_name": "git_status", "reason": "x" * 2000}
            response = await http.post("/run", json=big)
        assert response.status_code == 413
        # Refused on its Content-Length, before a byte of the body is read.
        assert response.json()["detail"].startswith("body: Content-Length ")
        assert await eng.audit.count(AuditFilter(action="run")) == 0


async def test_insecure_local_does_not_waive_a_configured_token(api: Api) -> None:
    app = create_api(api.eng, insecure_local=True)
    async with api_client(app, token=None) as http:
        assert (await http.get("/tools")).status_code == 401


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "attacker:8000", "localhost.evil"]
)
async def test_foreign_host_header_is_refused(api: Api, host: str) -> None:
    async with api.client(headers={"Host": host}) as http:
        await assert_all_refused(http, 403)
    await assert_nothing_happened(api)


async def test_allowed_hosts_and_own_names(api: Api) -> None:
    app = create_api(api.eng, allowed_hosts=["daena.lan"])
    for host in ("daena.lan", "DAENA.LAN:8000", "localhost:8000", "[::1]:8000", "127.0.0.1"):
        async with api_client(app, headers={"Host": host}) as http:
            assert (await http.get("/tools")).status_code == 200, host


async def test_cross_site_origin_is_refused_and_there_is_no_cors(api: Api) -> None:
    async with api.client(headers={"Origin": "https://evil.example"}) as http:
        await assert_all_refused(http, 403)
    preflight = await api.http.options(
        "/run",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    assert not any(k.lower().startswith("access-control-") for k in preflight.headers)
    plain = await api.http.get("/tools")
    assert not any(k.lower().startswith("access-control-") for k in plain.headers)
    # Only the origin the request was sent to (this client's Host has no port: :80); a page
    # on another port of the same host is another origin (tests/redteam/test_api_origin.py).
    same = await api.http.get("/tools", headers={"Origin": "http://127.0.0.1"})
    assert same.status_code == 200
    other_port = await api.http.get("/tools", headers={"Origin": "http://127.0.0.1:8000"})
    assert other_port.status_code == 403


async def test_replayed_grant_is_refused_and_audited(api: Api) -> None:
    grant = (await api.http.post("/approve", params={"tool_name": "shell_exec"})).json()
    body = {"command": "git status"}
    ok = await api.run("shell_exec", body, approval_id=grant["approval_id"])
    assert ok.status_code == 200
    for _ in range(3):
        replay = await api.run("shell_exec", body, approval_id=grant["approval_id"])
        assert replay.status_code == 403 and "already used" in replay.json()["error"]
    ran = await api.eng.audit.count(AuditFilter(tool="shell_exec", status="ok", action="run"))
    assert ran == 1


async def test_unknown_grant_is_refused(api: Api) -> None:
    response = await api.run("shell_exec", {"command": "git status"}, approval_id="grant_forged")
    assert response.status_code == 403 and "no grant" in response.json()["error"]


async def test_refused_run_does_not_consume_the_grant(api: Api) -> None:
    grant = (await api.http.post("/approve", params={"tool_name": "shell_exec"})).json()
    chained = await api.run(
        "shell_exec", {"command": "git status; id"}, approval_id=grant["approval_id"]
    )
    assert chained.status_code == 403 and "metacharacter" in chained.json()["error"]
    outside = await api.run(
        "shell_exec", {"command": "curl http://x"}, approval_id=grant["approval_id"]
    )
    assert outside.status_code == 403
    ok = await api.run("shell_exec", {"command": "git status"}, approval_id=grant["approval_id"])
    assert ok.status_code == 200 and ok.json()["status"] == "ok"


async def test_approving_twice_runs_once(api: Api) -> None:
    response = await api.run("shell_exec", {"command": "git status"}, requester="daena")
    request_id = response.json()["approval_request_id"]
    first = await api.http.post(f"/approvals/{request_id}", json={"decision": "approve"})
    second = await api.http.post(f"/approvals/{request_id}", json={"decision": "approve"})
    assert (first.status_code, second.status_code) == (200, 409)
    ran = await api.eng.audit.count(AuditFilter(tool="shell_exec", status="ok", action="run"))
    assert ran == 1


async def test_lockdown_is_423_everywhere_that_executes(api: Api) -> None:
    response = await api.run("shell_exec", {"command": "git status"}, requester="daena")
    request_id = response.json()["approval_request_id"]
    grant = (await api.http.post("/approve", params={"tool_name": "git_status"})).json()
    await api.set_config(lockdown=True)
    assert (await api.run("git_status")).status_code == 423
    assert (await api.run("git_status", approval_id=grant["approval_id"])).status_code == 423
    assert (await api.run("git_status", dry_run=True)).status_code == 423
    decide = await api.http.post(f"/approvals/{request_id}", json={"decision": "approve"})
    assert decide.status_code == 423
    inbox = await api.http.post("/request", json={"tool_name": "git_status"})
    assert inbox.status_code == 423
    assert await api.eng.audit.count(AuditFilter(action="run", status="ok")) == 0


async def test_lockdown_from_the_environment_is_423(api_workspace: Path, tmp_path: Path) -> None:
    settings = make_settings(
        api_workspace, tmp_path / "db" / "d.db", EXECUTION_TOKEN=TOKEN, SECURITY_LOCKDOWN_MODE="1"
    )
    async with Engine.open(settings) as eng, api_client(create_api(eng)) as http:
        assert (await http.post("/run", json={"tool_name": "git_status"})).status_code == 423
        config = (await http.get("/config")).json()
        assert config["lockdown_source"] == "SECURITY_LOCKDOWN_MODE"


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "../../etc/passwd",
        "/etc/passwd",
        "sub/../../outside.txt",
        "C:\\Windows\\win.ini",
        "\\\\server\\share\\x",
        "README.md\x00.txt",
        ".git/config",
    ],
)
async def test_path_escape_via_run_is_403(api: Api, path: str) -> None:
    (api.workspace.parent / "outside.txt").write_text("secret\n")
    await api.enable("filesystem_write")
    read = await api.run("filesystem_read", {"path": path})
    assert read.status_code in (403, 200), read.text
    if read.status_code == 200:  # .git/config may be read but never written
        assert path == ".git/config"
    write = await api.run(
        "filesystem_write", {"path": path, "content": "pwned"}, approval_id=None, dry_run=True
    )
    assert write.status_code == 403, write.text
    assert (api.workspace.parent / "outside.txt").read_text() == "secret\n"


async def test_symlink_escape_via_run_is_403(api: Api) -> None:
    secret = api.workspace.parent / "ws-secret"
    secret.mkdir()
    (secret / "key.txt").write_text("TOP SECRET\n")
    (api.workspace / "link").symlink_to(secret / "key.txt")
    response = await api.run("filesystem_read", {"path": "link"})
    assert response.status_code == 403 and "TOP SECRET" not in response.text
    sibling = await api.run("filesystem_read", {"path": "../ws-secret/key.txt"})
    assert sibling.status_code == 403


@pytest.mark.parametrize(
    "content",
    [b"{", b"{'tool_name': 'git_status'}", b"[1, 2", b"\xff\xfe", b"null", b"", b"[]", b"42"],
)
async def test_invalid_json_is_422(api: Api, content: bytes) -> None:
    response = await api.http.post(
        "/run", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_input"
    assert response.json()["detail"].startswith("body")


async def test_deeply_nested_json_is_not_a_500(api: Api) -> None:
    content = b'{"tool_name": "git_status", "args": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = await api.http.post(
        "/run", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("body: cannot be read as JSON")


async def test_body_in_a_foreign_charset_is_422(api: Api) -> None:
    response = await api.http.post(
        "/run",
        content='{"tool_name": "é"}'.encode("latin-1"),
        headers={"Content-Type": "application/json; charset=latin-1"},
    )
    assert response.status_code == 422


async def test_wrong_content_type_is_422(api: Api) -> None:
    response = await api.http.post(
        "/run", content=b"tool_name=git_status", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 422


async def test_oversized_body_is_413(api: Api) -> None:
    app = create_api(api.eng, max_body_bytes=1024)
    async with api_client(app) as http:
        big = {"tool_name": "git_status", "reason": "x" * 2000}
        response = await http.post("/run", json=big)
        assert response.status_code == 413

        async def chunks() -> Any:
            yield b'{"tool_name": "git_status", "reason": "'
            for _ in range(10):
                yield b"x" * 500
            yield b'"}'

        streamed = await http.post(
            "/run", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
    assert await api.eng.audit.count(AuditFilter(action="run")) == 0


async def test_x_operator_is_ignored(api: Api) -> None:
    """The name on a change comes from the credential; the header has no power at all."""
    response = await api.http.patch(
        "/config",
        json={"dry_run_default": False},
        headers={"X-Operator": "eve\r\n<script>alert(1)</script>; DROP" + "x" * 100},
    )
    assert response.status_code == 200
    [record] = await api.eng.audit.page(AuditFilter(action="config_change"), limit=1)
    assert record.actor == "api:op@test"


async def test_secrets_in_arguments_are_redacted_in_logs(api: Api) -> None:
    await api.run("filesystem_read", {"path": f"notes-{TOKEN}.txt"})
    text = (await api.http.get("/logs")).text
    assert TOKEN not in text and "***" in text


async def test_plain_http_client_without_transport_tricks(api_settings: Settings) -> None:
    """The app object itself refuses a request without the token (no test helpers)."""
    app = create_api(api_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        response = await http.get(API_PREFIX + "/tools")
    assert response.status_code == 401
