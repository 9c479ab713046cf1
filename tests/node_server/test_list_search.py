"""file_list_workspace and workspace_search on the real node server on loopback: the same
rules as the engine's tools (links shown, never followed; no `.git`; the node's own `.env`
left out; escapes refused), and the engine's windows_node_* tools reaching them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import Engine
from engine.protocol import RUN_TOOL_PATH
from tests.conftest import make_settings
from tests.node_server.conftest import TOKEN, Node, client_for, make_workspace, node_settings, serve

SECRET = "tok-node-SECRET-5150"


@pytest.fixture(scope="module")
def search_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    ws = make_workspace(tmp_path_factory.mktemp("listnode"))
    (ws / ".env").write_text(f"WINDOWS_NODE_TOKEN={SECRET}\n")
    (ws / ".git" / "notes.txt").write_text(f"{SECRET}\n")
    (ws / "sub" / "code.py").write_text("def hello():\n    return 'hello from the node'\n")
    with serve(node_settings(ws)) as running:
        yield running


def call(client: httpx.Client, tool: str, args: dict[str, Any]) -> httpx.Response:
    return client.post(RUN_TOOL_PATH, json={"tool_name": tool, "args": args})


def test_health_lists_the_new_tools(search_node: Node) -> None:
    with client_for(search_node) as client:
        tools = client.get("/node/health").json()["tools"]
    assert {"file_list_workspace", "workspace_search"} <= set(tools)


def test_listing_shows_links_but_never_their_targets(search_node: Node) -> None:
    with client_for(search_node) as client:
        answer = call(client, "file_list_workspace", {"recursive": True, "gitignore": False})
    assert answer.status_code == 200, answer.text
    kinds = {e["path"]: e["kind"] for e in answer.json()["entries"]}
    assert kinds["link-out"] == "link" and kinds["linkdir-out"] == "link"
    assert kinds["sub/note.txt"] == "file" and kinds["blob.bin"] == "file"
    assert not any(p.startswith(("linkdir-out/", ".git")) for p in kinds)
    assert ".env" not in kinds and answer.json()["protected_left_out"] >= 1


def test_search_finds_text_and_nothing_outside_git_or_env(search_node: Node) -> None:
    with client_for(search_node) as client:
        hits = call(client, "workspace_search", {"pattern": "hello from the node"}).json()
        secret = call(client, "workspace_search", {"pattern": SECRET, "gitignore": False}).json()
        outside = call(client, "workspace_search", {"pattern": "TOP SECRET"}).json()
    assert {m["path"] for m in hits["matches"]} == {"hello.txt", "sub/code.py"}
    assert hits["skipped_binary"] == 1
    assert secret["matches"] == [] and outside["matches"] == []


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("file_list_workspace", {"path": "../ws-secret"}),
        ("file_list_workspace", {"path": "linkdir-out"}),
        ("file_list_workspace", {"path": ".git"}),
        ("workspace_search", {"pattern": "x", "path": "..\\ws-secret"}),
        ("workspace_search", {"pattern": "x", "path": "C:\\Windows"}),
    ],
)
def test_escapes_are_refused_by_the_node(
    search_node: Node, tool: str, args: dict[str, Any]
) -> None:
    with client_for(search_node) as client:
        answer = call(client, tool, args)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "outside_workspace"
    assert "TOP SECRET" not in answer.text


@pytest.mark.parametrize(
    "args",
    [{"pattern": "(?=x)", "regex": True}, {"pattern": "x" * 5000}, {"pattern": "x", "bogus": 1}],
)
def test_bad_search_input_is_one_clear_400(search_node: Node, args: dict[str, Any]) -> None:
    with client_for(search_node) as client:
        answer = call(client, "workspace_search", args)
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["detail"]


async def test_windows_node_tools_reach_the_node_through_policy(
    search_node: Node, workspace: Path, db_path: Path
) -> None:
    async with Engine.open(make_settings(workspace, db_path)) as eng:
        await eng.nodes.add("win", search_node.url, TOKEN, operator="op")
        off = await eng.run("windows_node_workspace_search", {"pattern": "hello", "node": "win"})
        assert off.status == "refused" and "disabled" in (off.error or "")
        await eng.update_config(
            {
                "approval_mode": "auto",
                "tool_enabled": {
                    "windows_node_file_list_workspace": True,
                    "windows_node_workspace_search": True,
                },
            }
        )
        listed = await eng.run("windows_node_file_list_workspace", {"node": "win"})
        assert listed.status == "ok" and listed.result is not None, listed.error
        assert "hello.txt" in {e["path"] for e in listed.result["entries"]}
        found = await eng.run(
            "windows_node_workspace_search", {"pattern": "hello", "glob": "*.py", "node": "win"}
        )
        assert found.status == "ok" and found.result is not None
        assert [(m["path"], m["line"]) for m in found.result["matches"]] == [
            ("sub/code.py", 1),
            ("sub/code.py", 2),
        ]
        escape = await eng.run(
            "windows_node_file_list_workspace", {"path": "../ws-secret", "node": "win"}
        )
        assert escape.status == "refused" and "TOP SECRET" not in escape.model_dump_json()


async def test_a_bad_pattern_is_refused_before_it_leaves(workspace: Path, db_path: Path) -> None:
    async with Engine.open(make_settings(workspace, db_path)) as eng:
        await eng.nodes.add("win", "http://127.0.0.1:9", TOKEN, operator="op")  # nobody there
        await eng.update_config(
            {"approval_mode": "auto", "tool_enabled": {"windows_node_workspace_search": True}}
        )
        bad = await eng.run(
            "windows_node_workspace_search", {"pattern": "(?=x)", "regex": True, "node": "win"}
        )
    assert bad.status == "refused" and (bad.error or "").startswith("pattern: not a valid RE2")
