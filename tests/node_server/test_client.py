"""The engine's node client and the `windows_node_*` tools against a real node server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.errors import (
    ConfinementError,
    InputError,
    NodeError,
    NotFoundError,
    PolicyError,
    ToolFailure,
)
from engine.nodes import NodeClient, NodeToolTimeout
from engine.settings import load_settings
from engine.tools.builtin.windows_node import (
    TOOLS,
    WINDOWS_NODE_FILE_READ_WORKSPACE,
    WINDOWS_NODE_FILE_WRITE_WORKSPACE,
    WINDOWS_NODE_SAFE_SHELL_EXEC,
)
from engine.tools.spec import Risk, ToolContext, ToolSpec
from node_server import __version__


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def mock_client(handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# -- probe ----------------------------------------------------------------------------------


async def test_probe_ok(http: httpx.AsyncClient, node: Any, token: str) -> None:
    report = await NodeClient(http).probe(node.url + "/", token)
    assert report.status == "ok"
    assert report.ok
    assert report.version == __version__
    assert report.workspace_root == str(node.workspace)
    assert report.hostname == socket.gethostname()
    assert report.tools == (
        "safe_shell_exec",
        "file_read_workspace",
        "file_write_workspace",
        "file_list_workspace",
        "workspace_search",
    )
    assert report.latency_ms is not None and report.latency_ms > 0
    assert report.checked_at.endswith("Z")
    assert datetime.fromisoformat(report.checked_at).tzinfo is not None
    assert report.to_dict()["tools"] == list(report.tools)


async def test_probe_unreachable(http: httpx.AsyncClient, closed_url: str) -> None:
    report = await NodeClient(http).probe(closed_url, "whatever", timeout=2)
    assert report.status == "unreachable"
    assert report.message == f"cannot connect to {closed_url}: connection refused"
    assert report.latency_ms is None
    assert report.version is None


@pytest.mark.parametrize("sent", ["wrong-token", None])
async def test_probe_unauthorized(http: httpx.AsyncClient, node: Any, sent: str | None) -> None:
    report = await NodeClient(http).probe(node.url, sent)
    assert report.status == "unauthorized"
    assert "WINDOWS_NODE_TOKEN" in report.message
    assert report.version is None


@pytest.mark.parametrize(
    ("status", "content", "needle"),
    [
        (200, b"<html>hello</html>", "not a Daena node"),
        (200, b'{"status": "ok"}', "not a Daena node"),
        (500, b"boom", "HTTP 500: boom"),
        (403, b'{"error": "forbidden_host", "detail": "Host: nope", "status": 403}', "Host: nope"),
        (302, b"", "HTTP 302"),
    ],
)
async def test_probe_error_for_bad_answers(status: int, content: bytes, needle: str) -> None:
    async with mock_client(lambda request: httpx.Response(status, content=content)) as http:
        report = await NodeClient(http).probe("http://node.test:18888", "t")
    assert report.status == "error"
    assert needle in report.message


async def test_probe_timeout_is_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with mock_client(handler) as http:
        report = await NodeClient(http).probe("http://node.test:18888", None, timeout=1.5)
    assert report.status == "unreachable"
    assert "within 1.5s" in report.message


@pytest.mark.parametrize("url", ["ftp://node.test", "not a url", "", "http://"])
async def test_probe_bad_url_is_error_not_exception(http: httpx.AsyncClient, url: str) -> None:
    report = await NodeClient(http).probe(url, None)
    assert report.status == "error"
    assert report.message.startswith("url:")


async def test_probe_sends_the_token_header(token: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"error": "unauthorized", "detail": "no", "status": 401})

    async with mock_client(handler) as http:
        await NodeClient(http).probe("http://node.test:18888", token)
    assert seen[0].headers["X-Windows-Node-Token"] == token
    assert seen[0].url.path == "/node/health"


# -- run_tool -------------------------------------------------------------------------------


async def test_run_tool_returns_the_result(http: httpx.AsyncClient, node: Any, token: str) -> None:
    client = NodeClient(http)
    result = await client.run_tool(node.url, token, "file_read_workspace", {"path": "hello.txt"})
    assert result == {"path": "hello.txt", "content": "hello from the node\n", "size": 20}
    shell = await client.run_tool(
        node.url, token, "safe_shell_exec", {"command": ["git", "status"]}
    )
    assert shell["returncode"] == 0


@pytest.mark.parametrize(
    ("tool", "args", "error", "needle"),
    [
        ("safe_shell_exec", {"command": "touch pwned"}, PolicyError, "allowlist"),
        ("safe_shell_exec", {"command": "echo a; touch pwned"}, PolicyError, "metacharacter"),
        ("file_read_workspace", {"path": "../outside.txt"}, ConfinementError, "outside"),
        ("file_read_workspace", {"path": "missing.txt"}, NotFoundError, "does not exist"),
        ("file_read_workspace", {"path": "blob.bin"}, InputError, "binary"),
        ("safe_shell_exec", {"command": "git status", "timeout_sec": -1}, InputError, "timeout"),
        ("no_such_tool", {}, InputError, "unknown tool"),
        ("safe_shell_exec", {"command": "sleep 5", "timeout_sec": 0.5}, ToolFailure, "killed"),
        ("safe_shell_exec", {"command": "no-such-program-xyz"}, ToolFailure, "not found"),
    ],
)
async def test_run_tool_maps_node_errors(
    http: httpx.AsyncClient,
    node: Any,
    token: str,
    tool: str,
    args: dict[str, Any],
    error: type[Exception],
    needle: str,
) -> None:
    with pytest.raises(error) as caught:
        await NodeClient(http).run_tool(node.url, token, tool, args)
    message = str(caught.value)
    assert needle in message
    assert node.url in message
    assert not (node.workspace / "pwned").exists()


async def test_run_tool_policy_is_not_confinement(
    http: httpx.AsyncClient, node: Any, token: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        await NodeClient(http).run_tool(node.url, token, "safe_shell_exec", {"command": "gitk"})
    assert not isinstance(caught.value, ConfinementError)


async def test_run_tool_timeout_carries_partial_result(
    http: httpx.AsyncClient, node: Any, token: str
) -> None:
    with pytest.raises(NodeToolTimeout) as caught:
        await NodeClient(http).run_tool(
            node.url, token, "safe_shell_exec", {"command": "sleep 5", "timeout_sec": 0.5}
        )
    assert caught.value.result["timed_out"] is True
    assert caught.value.result["argv"] == ["sleep", "5"]


async def test_run_tool_wrong_token_is_node_error(http: httpx.AsyncClient, node: Any) -> None:
    with pytest.raises(NodeError, match="rejected the token"):
        await NodeClient(http).run_tool(node.url, "bad", "file_read_workspace", {"path": "x"})


async def test_run_tool_unreachable_is_node_error(http: httpx.AsyncClient, closed_url: str) -> None:
    with pytest.raises(NodeError, match="connection refused"):
        await NodeClient(http).run_tool(closed_url, None, "file_read_workspace", {"path": "x"})


@pytest.mark.parametrize(
    ("status", "content"),
    [(500, b"Internal Server Error"), (502, b""), (200, b"not json"), (200, b"[1]")],
)
async def test_run_tool_bad_answers_are_node_errors(status: int, content: bytes) -> None:
    async with mock_client(lambda request: httpx.Response(status, content=content)) as http:
        with pytest.raises(NodeError):
            await NodeClient(http).run_tool("http://node.test", None, "safe_shell_exec", {})


async def test_run_tool_client_timeout_follows_timeout_sec() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"ok": True})

    async with mock_client(handler) as http:
        await NodeClient(http).run_tool(
            "http://node.test", None, "safe_shell_exec", {"command": "x", "timeout_sec": 100}
        )
    assert seen[0]["read"] == 110.0


# -- windows_node_* tools through a NodeCaller ---------------------------------------------


class RegistryCaller:
    """A minimal NodeCaller: named nodes -> (url, token), calls through NodeClient."""

    def __init__(self, client: NodeClient, nodes: dict[str, tuple[str, str | None]]) -> None:
        self.client = client
        self.nodes = nodes
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def call_node_tool(
        self, node: str, tool_name: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        self.calls.append((node, tool_name, args))
        if node not in self.nodes:
            raise NotFoundError(f"node: no node named {node!r}")
        url, token = self.nodes[node]
        return await self.client.run_tool(url, token, tool_name, args)


@pytest.fixture
def caller(http: httpx.AsyncClient, node: Any, token: str) -> RegistryCaller:
    return RegistryCaller(NodeClient(http), {"windows": (node.url, token)})


def context(http: httpx.AsyncClient, tmp_path: Path, caller: Any) -> ToolContext:
    settings = load_settings(env_file=None, EXECUTION_WORKSPACE_ROOT=str(tmp_path))
    return ToolContext(settings=settings, workspace=tmp_path, http_source=http, nodes=caller)


async def call(spec: ToolSpec, ctx: ToolContext, **args: Any) -> dict[str, Any]:
    parsed = spec.args_model.model_validate(args)
    if spec.check is not None:
        spec.check(ctx, parsed)
    return await spec.run(ctx, parsed)


def test_specs_are_declared_off_with_their_risks() -> None:
    assert [(s.name, s.risk, s.default_enabled) for s in TOOLS] == [
        ("windows_node_safe_shell_exec", Risk.MEDIUM, False),
        ("windows_node_file_read_workspace", Risk.MEDIUM, False),
        ("windows_node_file_write_workspace", Risk.HIGH, False),
        ("windows_node_file_list_workspace", Risk.MEDIUM, False),
        ("windows_node_workspace_search", Risk.MEDIUM, False),
    ]
    for spec in TOOLS:
        schema = spec.json_schema()
        assert schema["properties"]["node"]["default"] == "windows"
        assert schema.get("additionalProperties") is False


async def test_node_tools_run_on_the_node(
    http: httpx.AsyncClient, tmp_path: Path, caller: RegistryCaller, node: Any
) -> None:
    ctx = context(http, tmp_path, caller)
    written = await call(
        WINDOWS_NODE_FILE_WRITE_WORKSPACE, ctx, path="from-engine.txt", content="hi node"
    )
    assert written == {"path": "from-engine.txt", "bytes_written": 7, "created": True}
    assert (node.workspace / "from-engine.txt").read_text(encoding="utf-8") == "hi node"
    assert not (tmp_path / "from-engine.txt").exists()  # the node's workspace, not ours
    read = await call(WINDOWS_NODE_FILE_READ_WORKSPACE, ctx, path="from-engine.txt")
    assert read["content"] == "hi node"
    shell = await call(WINDOWS_NODE_SAFE_SHELL_EXEC, ctx, command="git status")
    argv = shell["argv"]  # hardened git; the console's files are excluded by pathspec
    assert argv[0] == "git" and "status" in argv and argv[-1] == ":(exclude,literal).env"
    assert [c[:2] for c in caller.calls] == [
        ("windows", "file_write_workspace"),
        ("windows", "file_read_workspace"),
        ("windows", "safe_shell_exec"),
    ]
    assert all("node" not in c[2] for c in caller.calls)
    assert caller.calls[2][2] == {"command": "git status", "timeout_sec": 30.0}


async def test_node_tool_errors_come_back_as_engine_errors(
    http: httpx.AsyncClient, tmp_path: Path, caller: RegistryCaller
) -> None:
    ctx = context(http, tmp_path, caller)
    with pytest.raises(ConfinementError):
        await call(WINDOWS_NODE_FILE_READ_WORKSPACE, ctx, path="../ws-secret/secret.txt")
    with pytest.raises(NotFoundError, match="no node named 'laptop'"):
        await call(WINDOWS_NODE_FILE_READ_WORKSPACE, ctx, path="hello.txt", node="laptop")


async def test_shell_injection_is_refused_before_leaving_the_engine(
    http: httpx.AsyncClient, tmp_path: Path, caller: RegistryCaller
) -> None:
    ctx = context(http, tmp_path, caller)
    with pytest.raises(PolicyError, match="metacharacter"):
        await call(WINDOWS_NODE_SAFE_SHELL_EXEC, ctx, command="git status; id")
    assert caller.calls == []


async def test_without_a_node_registry_the_tools_fail_clearly(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    ctx = context(http, tmp_path, None)
    with pytest.raises(NodeError, match="no node registry"):
        await call(WINDOWS_NODE_FILE_READ_WORKSPACE, ctx, path="hello.txt")


@pytest.mark.parametrize("bad", [{"node": ""}, {"node": "../x"}, {"extra": 1}])
def test_node_tool_args_are_validated(bad: dict[str, Any]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        WINDOWS_NODE_FILE_READ_WORKSPACE.args_model.model_validate({"path": "a", **bad})
