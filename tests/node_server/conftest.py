"""Fixtures for the node server tests: a real uvicorn server on loopback, in a thread.

The workspace is a tmp git repository with a text file, a binary file and symlinks that
lead outside it; a sibling directory `ws-secret` shares the workspace's name prefix.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.protocol import TOKEN_HEADER
from node_server.app import create_app
from node_server.settings import NodeSettings
from tests.support.servers import serve_in_thread

TOKEN = "test-node-token-0123456789"
# Entries without option rules admit exactly their own words, so each names its arguments.
ALLOWLIST = [
    "git status",
    "git log",
    "echo",
    "env",
    "pwd",
    "sleep 2",
    "sleep 5",
    "no-such-program-xyz",
]
SMALL_BODY_LIMIT = 1024


@dataclass(frozen=True)
class Node:
    url: str
    settings: NodeSettings

    @property
    def workspace(self) -> Path:
        return self.settings.workspace_root

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def make_workspace(base: Path) -> Path:
    ws = base / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "hello.txt").write_text("hello from the node\n", encoding="utf-8")
    (ws / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (ws / "sub").mkdir()
    (ws / "sub" / "note.txt").write_text("note\n", encoding="utf-8")
    secret = base / "ws-secret"
    secret.mkdir()
    (secret / "secret.txt").write_text("TOP SECRET\n", encoding="utf-8")
    (base / "outside.txt").write_text("outside\n", encoding="utf-8")
    (ws / "link-out").symlink_to(secret / "secret.txt")
    (ws / "linkdir-out").symlink_to(secret, target_is_directory=True)
    return ws


def node_settings(workspace: Path, **overrides: Any) -> NodeSettings:
    values: dict[str, Any] = {
        "workspace_root": workspace,
        "token": TOKEN,
        "shell_allowlist": ALLOWLIST,
        "allowed_hosts": [],
    }
    values.update(overrides)
    return NodeSettings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def serve(settings: NodeSettings) -> Iterator[Node]:
    """Run the real app with uvicorn on a pre-bound loopback socket; stop it afterwards."""
    with serve_in_thread(create_app(settings)) as url:
        yield Node(url=url, settings=settings)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Node]:
    """The main node: token required, test allowlist, default body limit; one per backend
    variant (`backend`), so a variant finds the workspace its tests left, not the other's."""
    ws = make_workspace(tmp_path_factory.mktemp("node"))
    with serve(node_settings(ws)) as running:
        yield running


@pytest.fixture(scope="module")
def small_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node with a 1 KiB body limit."""
    ws = make_workspace(tmp_path_factory.mktemp("small"))
    with serve(node_settings(ws, max_body_bytes=SMALL_BODY_LIMIT)) as running:
        yield running


@pytest.fixture(scope="module")
def open_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A loopback node without a token, answering to the extra name `node.lan`."""
    ws = make_workspace(tmp_path_factory.mktemp("open"))
    with serve(node_settings(ws, token=None, allowed_hosts=["Node.LAN"])) as running:
        yield running


def refuse_500(response: httpx.Response) -> None:
    """Event hook: the node must never answer a bare (or any) 500."""
    if response.status_code >= 500 and response.status_code != 504:
        response.read()
        raise AssertionError(f"node answered {response.status_code}: {response.text}")


def client_for(node: Node, token: str | None = TOKEN) -> httpx.Client:
    headers = {TOKEN_HEADER: token} if token is not None else {}
    return httpx.Client(
        base_url=node.url, headers=headers, timeout=30, event_hooks={"response": [refuse_500]}
    )


@pytest.fixture
def client(node: Node) -> Iterator[httpx.Client]:
    with client_for(node) as c:
        yield c


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def make_client() -> Any:
    """`make_client(node, token=TOKEN)`: an httpx.Client that fails the test on any 5xx but 504."""
    return client_for


@pytest.fixture
def start_node(tmp_path: Path) -> Any:
    """`start_node(**settings)`: context manager running a fresh node on a new workspace."""
    ws = make_workspace(tmp_path)

    def start(**overrides: Any) -> Any:
        return serve(node_settings(ws, **overrides))

    return start


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for `python -m node_server` subprocesses: repo importable, no node vars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WINDOWS_NODE", "NODE_"))}
    env.pop("EXECUTION_WORKSPACE_ROOT", None)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env
