"""Fixtures for calling built-in tools directly: a workspace, a ToolContext factory, real git
repositories, a spawn guard, and two real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pygit2
import pytest

from engine.settings import load_settings
from engine.tools.spec import ToolContext

MakeCtx = Callable[..., ToolContext]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def commit_all(repo: pygit2.Repository, message: str = "commit") -> None:
    repo.index.add_all()
    repo.index.write()
    sig = pygit2.Signature("Test", "test@example.com")
    parents = [] if repo.head_is_unborn else [repo.head.target]
    repo.create_commit("HEAD", sig, sig, message, repo.index.write_tree(), parents)


@pytest.fixture
def git_workspace(workspace: Path) -> Path:
    """The workspace as a real git repository with one commit."""
    repo = pygit2.init_repository(str(workspace))
    (workspace / "README.md").write_text("hello\n")
    commit_all(repo, "initial")
    repo.free()
    return workspace


@pytest.fixture
async def make_ctx(workspace: Path) -> AsyncIterator[MakeCtx]:
    """Build ToolContexts for the workspace; settings overrides by field name or env alias.

    The client follows redirects on purpose: web_scrape_bs4 must not rely on that setting.
    """
    clients: list[httpx.AsyncClient] = []

    def make(ws: Path | None = None, **overrides: Any) -> ToolContext:
        root = ws or workspace
        settings = load_settings(env_file=None, EXECUTION_WORKSPACE_ROOT=str(root), **overrides)
        client = httpx.AsyncClient(follow_redirects=True, trust_env=False)
        clients.append(client)
        return ToolContext(settings=settings, workspace=root, http_source=client)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def forbid_spawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Any attempt to start a process fails the test (and is recorded)."""
    calls: list[tuple[Any, ...]] = []

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        pytest.fail(f"a process was spawned for a refused command: {args!r}")

    monkeypatch.setattr(asyncio, "create_subprocess_exec", refuse)
    monkeypatch.setattr(asyncio, "create_subprocess_shell", refuse)
    return calls


@pytest.fixture
def spawn_spy(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record every real spawn (argv, cwd, env) and let it through."""
    calls: list[dict[str, Any]] = []
    real = asyncio.create_subprocess_exec

    async def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append({"argv": list(args), "cwd": kwargs.get("cwd"), "env": kwargs.get("env")})
        return await real(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    return calls


# --- two real HTTP servers on loopback ------------------------------------------------------

PAGE = b"""<!doctype html><html><head><title>T</title><script>var secret = 1;</script></head>
<body><div id="main"><p>Hello <b>world</b></p>
<a href="/rel">Relative</a> <a href="https://example.org/abs">Absolute</a></div>
<div id="other"><p>Other text</p><a href="other.html">Other</a></div>
<table id="t"><tr><th>Name</th><th>Qty</th></tr><tr><td>apple</td><td>3</td></tr>
<tr><td>pear<table><tr><td>nested</td></tr></table></td><td>5</td></tr></table>
</body></html>"""


@dataclass
class WebServer:
    base: str
    hits: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None


def _handler(state: WebServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state.hits.append(self.path)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/page":
                self._send(200, PAGE)
            elif parts.path == "/redirect":
                self._send(302, b"", {"Location": query["to"]})
            elif parts.path == "/chain":
                n = int(query["n"])
                target = "/page" if n <= 0 else f"/chain?n={n - 1}"
                self._send(302, b"", {"Location": target})
            elif parts.path == "/big":
                self._big()
            else:
                self._send(404, b"<p>not here</p>")

        def _big(self) -> None:
            chunk = b"<p>" + b"x" * 65_000 + b"</p>\n"
            count = 100  # ~6.5 MB, over the 2 MB cap
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(chunk) * count))
            self.end_headers()
            try:
                for _ in range(count):
                    self.wfile.write(chunk)
            except OSError:
                pass  # the client stopped reading at its cap and closed the connection

    return Handler


def _start(host_for_url: str) -> WebServer:
    state = WebServer(base="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.server = server
    state.base = f"http://{host_for_url}:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return state


@pytest.fixture
def web_servers() -> Iterator[tuple[WebServer, WebServer]]:
    """Server A is addressed as 127.0.0.1, server B as localhost (both on loopback)."""
    a, b = _start("127.0.0.1"), _start("localhost")
    yield a, b
    for s in (a, b):
        assert s.server is not None
        s.server.shutdown()
        s.server.server_close()
