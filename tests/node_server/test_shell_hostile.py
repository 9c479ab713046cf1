"""Promises 1 and 2 on a node: `safe_shell_exec` under the node's default allowlist.

A real node on loopback, its workspace a real git repository beside `ws-secret/` and
`outside.txt`, with links that lead out. Each hostile argv is refused with 403 naming the
option or operand, nothing outside the workspace is created or changed, and the everyday
forms of the same commands still answer 200 with the hardened git.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.protocol import ErrorBody
from node_server.settings import DEFAULT_NODE_ALLOWLIST
from tests.node_server.conftest import Node, client_for, make_workspace, node_settings, serve


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-node")


@pytest.fixture(scope="module")
def default_node(base: Path) -> Iterator[Node]:
    ws = make_workspace(base)
    (ws / ".env").write_text("WINDOWS_NODE_TOKEN=node-secret\n")
    script = base / "fake-python"
    script.write_text(f"#!/bin/sh\ntouch {base / 'python-ran'}\n")
    script.chmod(0o755)
    allowlist = [*DEFAULT_NODE_ALLOWLIST, f"{sys.executable} -m pip list"]
    with serve(node_settings(ws, shell_allowlist=allowlist)) as running:
        yield running


@pytest.fixture
def client(default_node: Node) -> Iterator[httpx.Client]:
    with client_for(default_node) as c:
        yield c


def outside_state(base: Path, ws: Path) -> dict[str, bytes]:
    return {
        str(p): (p.read_bytes() if p.is_file() else b"<dir>")
        for p in sorted(base.rglob("*"))
        if not p.is_relative_to(ws) and not p.is_symlink()
    }


def shell(client: httpx.Client, command: str | list[str]) -> httpx.Response:
    return client.post(
        "/node/run_tool", json={"tool_name": "safe_shell_exec", "args": {"command": command}}
    )


HOSTILE: list[tuple[list[str], str]] = [
    (["git", "diff", "--no-index", "../outside.txt", "hello.txt"], "'--no-index'"),
    (["git", "diff", "../outside.txt", "hello.txt"], "'..'"),
    (["git", "diff", "{base}/outside.txt", "hello.txt"], "outside the workspace"),
    (["git", "diff", "link-out", "hello.txt"], "outside the workspace"),
    (["git", "diff", "--", "linkdir-out/secret.txt"], "outside the workspace"),
    (["git", "diff", "--binary", "{base}/ws-secret/secret.txt", "hello.txt"], "'--binary'"),
    (["git", "diff", "--output={base}/diff.txt"], "'--output'"),
    (["git", "log", "--output", "{base}/log.txt"], "'--output'"),
    (["git", "log", "--outp={base}/log.txt"], "abbreviations"),
    (["git", "status", "--", ".env"], "console's own files"),
    (["git", "status", ".ENV"], "console's own files"),
    (["git", "log", "--show-signature"], "gpg"),
    (["git", "diff", "HEAD:hello.txt"], "':'"),
    (["pip", "--version", "--python={base}/fake-python"], "admits exactly that command"),
    (["pip", "list", "--python", "{base}/fake-python"], "another interpreter"),
    (["pip", "list", "--pyth={base}/fake-python"], "abbreviations"),
    (["pip", "list", "--log={base}/pip.log"], "writes a file"),
    (["pip", "show", "{base}/ws-secret"], "not a package name"),
    (["pip", "show", "-i", "http://127.0.0.1:9/simple", "pip"], "'-i'"),
    (["{py}", "-m", "pip", "list", "--pyth", "{base}/fake-python"], "abbreviations"),
    (["python", "--version", "-c", "print(1)"], "metacharacter"),
    (["python", "-c", "print"], "not in the allowlist"),
    (["python", "--version", "-W", "ignore"], "admits exactly that command"),
]


@pytest.mark.parametrize(("words", "needle"), HOSTILE, ids=[" ".join(w) for w, _ in HOSTILE])
def test_hostile_argv_is_refused_and_nothing_outside_changes(
    client: httpx.Client, default_node: Node, base: Path, words: list[str], needle: str
) -> None:
    argv = [w.format(base=base, py=sys.executable) for w in words]
    before = outside_state(base, default_node.workspace)
    for command in (argv, " ".join(argv)):
        response = shell(client, command)
        assert response.status_code == 403, response.text
        body = ErrorBody.model_validate(response.json())
        assert body.detail.startswith("command: ") and needle in body.detail, body.detail
    assert outside_state(base, default_node.workspace) == before
    assert not (base / "python-ran").exists()


def test_everyday_forms_still_run_with_the_hardened_git(client: httpx.Client) -> None:
    for command in ("git status --short", "git status -sb", "git diff --stat", "pip --version"):
        response = shell(client, command)
        assert response.status_code == 200, (command, response.text)
        result = response.json()
        assert result["returncode"] == 0, (command, result["stderr"])
    status = shell(client, "git status --short").json()
    assert "?? hello.txt" in status["stdout"]
    # The hardening's own options come first; the node's `.env` is excluded by pathspec.
    assert status["argv"][0] == "git" and status["argv"].index("status") > 1
    assert status["argv"][-3:] == ["--short", "--", ":(exclude,literal).env"]
    assert ".env" not in status["stdout"]
