"""The node server over real HTTP (uvicorn on loopback): tools, token, confinement, limits.

Every client used here fails the test on any 5xx other than 504 (see `refuse_500`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.protocol import NODE_TOOLS, TOKEN_HEADER, ErrorBody
from node_server import __version__


def run(client: httpx.Client, tool: str, **args: Any) -> httpx.Response:
    return client.post("/node/run_tool", json={"tool_name": tool, "args": args})


def error_of(response: httpx.Response, status: int) -> ErrorBody:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = ErrorBody.model_validate(response.json())
    assert body.status == status
    assert body.detail
    return body


# -- health ---------------------------------------------------------------------------------


def test_health_describes_the_node(client: httpx.Client, node: Any) -> None:
    response = client.get("/node/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["workspace_root"] == str(node.workspace)
    assert body["tools"] == list(NODE_TOOLS)
    assert body["hostname"] == socket.gethostname()
    assert body["platform"]


@pytest.mark.parametrize("sent", [None, "wrong", "test-node-token-012345678", ""])
def test_health_requires_the_token(node: Any, make_client: Any, sent: str | None) -> None:
    with make_client(node, token=sent) as client:
        body = error_of(client.get("/node/health"), 401)
    assert body.error == "unauthorized"
    assert TOKEN_HEADER in body.detail


def test_run_tool_requires_the_token_and_runs_nothing(node: Any, make_client: Any) -> None:
    with make_client(node, token="wrong") as client:
        response = run(client, "file_write_workspace", path="unauth.txt", content="x")
        error_of(response, 401)
    assert not (node.workspace / "unauth.txt").exists()


def test_open_loopback_node_needs_no_token(open_node: Any, make_client: Any) -> None:
    with make_client(open_node, token=None) as client:
        assert client.get("/node/health").status_code == 200


# -- safe_shell_exec ------------------------------------------------------------------------


def test_shell_runs_git_status_in_the_workspace(client: httpx.Client) -> None:
    response = run(client, "safe_shell_exec", command="git status")
    assert response.status_code == 200, response.text
    result = response.json()
    argv = result["argv"]
    assert argv[0] == "git" and "status" in argv  # hardened git
    # the node's own .env is excluded by pathspec, present or not (it may be in history)
    assert argv[argv.index("status") + 1 :] == ["--", ":(exclude,literal).env"]
    assert result["returncode"] == 0
    assert "branch" in result["stdout"].lower()
    assert result["timed_out"] is False
    assert result["truncated"] is False


def test_shell_accepts_an_argv_list_and_runs_in_the_workspace(
    client: httpx.Client, node: Any
) -> None:
    response = run(client, "safe_shell_exec", command=["pwd"])
    assert response.status_code == 200, response.text
    assert response.json()["stdout"].strip() == str(node.workspace)


def test_failing_command_is_a_result_with_its_returncode(client: httpx.Client) -> None:
    # `git log` in a repository without commits exits 128.
    response = run(client, "safe_shell_exec", command="git log")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["returncode"] != 0
    assert result["stderr"]


def test_shell_environment_is_scrubbed(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINDOWS_NODE_TOKEN", "leaky-node-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "leaky-api-key")
    response = run(client, "safe_shell_exec", command="env")
    assert response.status_code == 200, response.text
    stdout = response.json()["stdout"]
    assert "leaky-node-secret" not in stdout
    assert "leaky-api-key" not in stdout
    assert "test-node-token" not in stdout


def test_allowlisted_program_that_cannot_start_is_a_tool_failure(client: httpx.Client) -> None:
    body = error_of(run(client, "safe_shell_exec", command="no-such-program-xyz"), 409)
    assert body.error == "tool_failed"
    assert "not found" in body.detail


def test_output_cap_is_reported_not_silent(start_node: Any, make_client: Any) -> None:
    echo = ["echo " + "y" * 500]  # an entry without option rules names its arguments
    with start_node(output_cap=100, shell_allowlist=echo) as small, make_client(small) as client:
        response = run(client, "safe_shell_exec", command=["echo", "y" * 500])
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["truncated"] is True
    assert len(result["stdout"]) == 100


@pytest.mark.parametrize(
    "command", ["touch pwned", "gitk", "git -c core.pager=touch status", "git statusx", "sh"]
)
def test_allowlist_miss_is_refused(client: httpx.Client, node: Any, command: str) -> None:
    body = error_of(run(client, "safe_shell_exec", command=command), 403)
    assert body.error == "refused"
    assert body.detail.startswith("command:")
    assert not (node.workspace / "pwned").exists()


INJECTIONS: list[str | list[str]] = [
    "echo hi; touch pwned",
    "echo hi && touch pwned",
    "echo hi || touch pwned",
    "echo hi | touch pwned",
    "echo hi & touch pwned",
    "echo $(touch pwned)",
    "echo `touch pwned`",
    "echo hi > pwned",
    "echo hi >> pwned",
    "echo hi < /etc/passwd",
    "echo hi\ntouch pwned",
    "echo hi\rtouch pwned",
    "echo ${IFS}touch${IFS}pwned",
    "echo *",
    "echo ~/.ssh/id_rsa",
    "git status; touch pwned",
    "git log --output=pwned",
    ["echo", "hi;", "touch", "pwned"],
    ["sh", "-c", "touch pwned"],
    ["cmd.exe", "/c", "type nul > pwned"],
]


@pytest.mark.parametrize("command", INJECTIONS, ids=[repr(c) for c in INJECTIONS])
def test_injection_is_refused_and_nothing_runs(
    client: httpx.Client, node: Any, command: str | list[str]
) -> None:
    body = error_of(run(client, "safe_shell_exec", command=command), 403)
    assert body.error == "refused"
    assert not (node.workspace / "pwned").exists()


def test_slow_command_times_out_with_504_and_partial_result(client: httpx.Client) -> None:
    started = time.monotonic()
    response = run(client, "safe_shell_exec", command="sleep 5", timeout_sec=1)
    elapsed = time.monotonic() - started
    body = error_of(response, 504)
    assert body.error == "timeout"
    assert "timeout_sec" in body.detail
    assert body.result is not None
    assert body.result["timed_out"] is True
    assert body.result["argv"] == ["sleep", "5"]
    assert elapsed < 4.5


async def test_health_answers_while_a_command_runs(node: Any, token: str) -> None:
    headers = {TOKEN_HEADER: token}
    async with httpx.AsyncClient(base_url=node.url, headers=headers, timeout=30) as client:
        slow = asyncio.create_task(
            client.post(
                "/node/run_tool",
                json={"tool_name": "safe_shell_exec", "args": {"command": "sleep 2"}},
            )
        )
        await asyncio.sleep(0.3)  # let the slow command start before measuring
        started = time.monotonic()
        health = await client.get("/node/health")
        latency = time.monotonic() - started
        assert health.status_code == 200
        assert not slow.done()
        assert latency < 1.0
        assert (await slow).status_code == 200


# -- files ----------------------------------------------------------------------------------


def test_read_returns_workspace_relative_path(client: httpx.Client) -> None:
    response = run(client, "file_read_workspace", path="sub/../hello.txt")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "path": "hello.txt",
        "content": "hello from the node\n",
        "size": len("hello from the node\n"),
    }


def test_read_accepts_an_absolute_path_inside(client: httpx.Client, node: Any) -> None:
    response = run(client, "file_read_workspace", path=str(node.workspace / "sub" / "note.txt"))
    assert response.status_code == 200, response.text
    assert response.json()["path"] == "sub/note.txt"


def test_write_creates_then_overwrites(client: httpx.Client, node: Any) -> None:
    first = run(client, "file_write_workspace", path="out/new.txt", content="one", create_dirs=True)
    assert first.status_code == 200, first.text
    assert first.json() == {"path": "out/new.txt", "bytes_written": 3, "created": True}
    second = run(client, "file_write_workspace", path="out/new.txt", content="twö")
    assert second.json() == {"path": "out/new.txt", "bytes_written": 4, "created": False}
    assert (node.workspace / "out" / "new.txt").read_text(encoding="utf-8") == "twö"


def test_write_a_megabyte_fits_the_default_body_limit(client: httpx.Client, node: Any) -> None:
    content = "x" * 1_000_000
    response = run(client, "file_write_workspace", path="big.txt", content=content)
    assert response.status_code == 200, response.text
    assert (node.workspace / "big.txt").stat().st_size == 1_000_000


def test_write_without_create_dirs_into_missing_dir_is_404(client: httpx.Client, node: Any) -> None:
    body = error_of(run(client, "file_write_workspace", path="nodir/x.txt", content="x"), 404)
    assert "create_dirs" in body.detail
    assert not (node.workspace / "nodir").exists()


def test_missing_file_is_404(client: httpx.Client) -> None:
    body = error_of(run(client, "file_read_workspace", path="nope.txt"), 404)
    assert body.error == "not_found"
    assert body.detail.startswith("path:")


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        ({"path": "blob.bin"}, "binary"),
        ({"path": "hello.txt", "max_bytes": 5}, "max_bytes"),
        ({"path": "sub"}, "not a regular file"),
    ],
)
def test_read_refuses_binaries_dirs_and_oversize(
    client: httpx.Client, args: dict[str, Any], rule: str
) -> None:
    body = error_of(run(client, "file_read_workspace", **args), 422)
    assert rule in body.detail


def test_write_refuses_nul_and_binary_overwrite(client: httpx.Client, node: Any) -> None:
    assert error_of(run(client, "file_write_workspace", path="n.txt", content="a\x00b"), 422)
    error_of(run(client, "file_write_workspace", path="blob.bin", content="text"), 422)
    assert (node.workspace / "blob.bin").read_bytes().startswith(b"\x00")


ESCAPES = [
    "../outside.txt",
    "../ws-secret/secret.txt",
    "sub/../../outside.txt",
    "link-out",
    "linkdir-out/secret.txt",
    "..\\outside.txt",
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\secret.txt",
    "a\x00b",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_read_outside_the_workspace_is_refused(client: httpx.Client, path: str) -> None:
    body = error_of(run(client, "file_read_workspace", path=path), 403)
    assert body.error == "outside_workspace"
    assert "SECRET" not in body.detail


def test_read_absolute_paths_outside_are_refused(client: httpx.Client, node: Any) -> None:
    base = node.workspace.parent
    for path in (str(base / "outside.txt"), str(base / "ws-secret" / "secret.txt"), "/etc/passwd"):
        assert error_of(run(client, "file_read_workspace", path=path), 403)


@pytest.mark.parametrize(
    "path", ["../escaped.txt", "../ws-secret/planted.txt", "linkdir-out/planted.txt"]
)
def test_write_outside_the_workspace_is_refused(client: httpx.Client, node: Any, path: str) -> None:
    body = error_of(run(client, "file_write_workspace", path=path, content="x"), 403)
    assert body.error == "outside_workspace"
    base = node.workspace.parent
    assert not (base / "escaped.txt").exists()
    assert not (base / "ws-secret" / "planted.txt").exists()


def test_write_into_git_dir_is_refused(client: httpx.Client, node: Any) -> None:
    response = run(client, "file_write_workspace", path=".git/hooks/pre-commit", content="x")
    error_of(response, 403)
    assert not (node.workspace / ".git" / "hooks" / "pre-commit").exists()


# -- bad requests ---------------------------------------------------------------------------


def test_unknown_tool_is_400(client: httpx.Client) -> None:
    body = error_of(run(client, "rm_rf"), 400)
    assert body.error == "unknown_tool"
    assert "safe_shell_exec" in body.detail


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("safe_shell_exec", {}, "command"),
        ("safe_shell_exec", {"command": 5}, "command"),
        ("safe_shell_exec", {"command": "git status", "timeout_sec": 0}, "timeout_sec"),
        ("safe_shell_exec", {"command": "git status", "timeout_sec": 301}, "timeout_sec"),
        ("safe_shell_exec", {"command": "git status", "timeout_sec": "soon"}, "timeout_sec"),
        ("safe_shell_exec", {"command": "git status", "shell": True}, "shell"),
        ("safe_shell_exec", {"command": ""}, "command"),
        ("file_read_workspace", {"path": "hello.txt", "max_bytes": 0}, "max_bytes"),
        ("file_read_workspace", {"path": "hello.txt", "max_bytes": 10_000_001}, "max_bytes"),
        ("file_read_workspace", {"path": 123}, "path"),
        ("file_read_workspace", {"path": ""}, "path"),
        ("file_write_workspace", {"path": "x.txt"}, "content"),
        ("file_write_workspace", {"path": "x.txt", "content": "x", "mode": "0777"}, "mode"),
    ],
)
def test_invalid_args_are_422_naming_the_field(
    client: httpx.Client, tool: str, args: dict[str, Any], field: str
) -> None:
    body = error_of(run(client, tool, **args), 422)
    assert body.detail.startswith(f"{field}:"), body.detail


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "body"),
        (b"", "body"),
        (b"\xff\xfe\x00garbage", "body"),
        (b"[" * 100_000, "body"),
        (b"[1, 2]", "body"),
        (b'{"args": {}}', "tool_name"),
        (b'{"tool_name": "safe_shell_exec", "args": []}', "args"),
        (b'{"tool_name": "safe_shell_exec", "args": {}, "extra": 1}', "extra"),
    ],
)
def test_malformed_requests_are_422(client: httpx.Client, content: bytes, field: str) -> None:
    response = client.post(
        "/node/run_tool", content=content, headers={"content-type": "application/json"}
    )
    body = error_of(response, 422)
    assert body.error == "invalid_args"
    assert body.detail.startswith(f"{field}:"), body.detail


def test_non_json_content_type_is_refused(client: httpx.Client, node: Any) -> None:
    # A browser can send text/plain cross-site without a preflight; the node will not take it.
    payload = {"tool_name": "file_write_workspace", "args": {"path": "csrf.txt", "content": "x"}}
    response = client.post(
        "/node/run_tool", content=json.dumps(payload), headers={"content-type": "text/plain"}
    )
    error_of(response, 415)
    assert not (node.workspace / "csrf.txt").exists()


def test_unknown_route_and_method_are_json(client: httpx.Client) -> None:
    assert error_of(client.get("/node/nothing"), 404).error == "unknown_route"
    assert error_of(client.get("/node/run_tool"), 405).error == "method_not_allowed"
    assert error_of(client.get("/docs"), 404)
    assert error_of(client.get("/openapi.json"), 404)


# -- body size ------------------------------------------------------------------------------


def _write_body(size: int, path: str) -> bytes:
    shell = {"tool_name": "file_write_workspace", "args": {"path": path, "content": ""}}
    padding = size - len(json.dumps(shell))
    shell["args"]["content"] = "x" * padding  # type: ignore[index]
    data = json.dumps(shell).encode()
    assert len(data) == size
    return data


def test_body_within_limit_is_accepted(small_node: Any, make_client: Any) -> None:
    with make_client(small_node) as client:
        response = client.post(
            "/node/run_tool",
            content=_write_body(1000, "fits.txt"),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 200, response.text
    assert (small_node.workspace / "fits.txt").exists()


def test_oversized_body_by_content_length_is_413(small_node: Any, make_client: Any) -> None:
    with make_client(small_node) as client:
        response = client.post(
            "/node/run_tool",
            content=_write_body(2000, "declared.txt"),
            headers={"content-type": "application/json"},
        )
    body = error_of(response, 413)
    assert "Content-Length" in body.detail
    assert not (small_node.workspace / "declared.txt").exists()


def test_oversized_chunked_body_is_413(small_node: Any, make_client: Any) -> None:
    data = _write_body(3000, "chunked.txt")

    def chunks() -> Any:
        for start in range(0, len(data), 500):
            yield data[start : start + 500]

    with make_client(small_node) as client:
        response = client.post(
            "/node/run_tool", content=chunks(), headers={"content-type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    body = error_of(response, 413)
    assert body.error == "payload_too_large"
    assert not (small_node.workspace / "chunked.txt").exists()


# -- Host and Origin ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:18888", "127.0.0.1.nip.io", "localhost.evil.example"]
)
def test_foreign_host_header_is_refused(client: httpx.Client, host: str) -> None:
    body = error_of(client.get("/node/health", headers={"host": host}), 403)
    assert body.error == "forbidden_host"
    assert "NODE_ALLOWED_HOSTS" in body.detail


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:{port}", "127.0.0.1", "[::1]:{port}"])
def test_loopback_host_headers_are_accepted(client: httpx.Client, node: Any, host: str) -> None:
    response = client.get("/node/health", headers={"host": host.format(port=node.port)})
    assert response.status_code == 200, response.text


def test_configured_allowed_host_is_accepted(open_node: Any, make_client: Any) -> None:
    with make_client(open_node, token=None) as client:
        assert client.get("/node/health", headers={"host": "node.lan:18888"}).status_code == 200
        assert client.get("/node/health", headers={"host": "other.lan"}).status_code == 403


def test_request_without_host_header_is_refused(node: Any) -> None:
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as conn:
        conn.sendall(b"GET /node/health HTTP/1.0\r\n\r\n")
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 403")


def test_browser_origin_is_refused(client: httpx.Client, node: Any) -> None:
    response = client.post(
        "/node/run_tool",
        json={"tool_name": "file_write_workspace", "args": {"path": "o.txt", "content": "x"}},
        headers={"origin": "https://evil.example"},
    )
    assert error_of(response, 403).error == "forbidden_origin"
    assert "access-control-allow-origin" not in response.headers
    assert not (node.workspace / "o.txt").exists()


def test_no_cors_preflight_support(client: httpx.Client) -> None:
    response = client.options(
        "/node/run_tool",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert response.status_code == 403
    assert not any(h.startswith("access-control-") for h in response.headers)


# -- fuzzing: never a 500, never a shell ----------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tail=st.text(max_size=40))
def test_fuzzed_commands_never_break_the_node(node: Any, make_client: Any, tail: str) -> None:
    with make_client(node) as client:
        response = run(client, "safe_shell_exec", command="echo " + tail, timeout_sec=5)
    assert response.status_code in (200, 403, 422), response.text
    assert not (node.workspace / "pwned").exists()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.text(max_size=60))
def test_fuzzed_paths_never_break_the_node(node: Any, make_client: Any, path: str) -> None:
    with make_client(node) as client:
        response = run(client, "file_read_workspace", path=path)
    assert response.status_code in (200, 403, 404, 422), response.text
    if response.status_code == 200:
        assert ".." not in response.json()["path"].split("/")
