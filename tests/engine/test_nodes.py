"""Nodes (docs/windows_node.md), engine side: the node registry, health, and node tools through
policy and audit."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine, InputError, NodeHealthChanged, NotFoundError
from tests.conftest import make_settings
from tests.node_server.conftest import TOKEN, make_workspace, node_settings, serve


@pytest.fixture
def node_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "node").mkdir()
    ws = make_workspace(tmp_path / "node")
    with serve(node_settings(ws)) as running:
        yield running.url


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_default_node_seeded_from_settings(workspace: Path, db_path: Path) -> None:
    settings = make_settings(
        workspace, db_path, WINDOWS_NODE_URL="http://127.0.0.1:1", WINDOWS_NODE_TOKEN="seed-tok-1"
    )
    async with Engine.open(settings) as eng:
        [node] = await eng.nodes.list()
        assert (node.name, node.url, node.token, node.enabled) == (
            "windows",
            "http://127.0.0.1:1",
            "seed-tok-1",
            True,
        )
        assert node.to_dict()["token"] == "set"
        await eng.nodes.remove("windows", operator="op")
    async with Engine.open(settings) as eng:
        assert await eng.nodes.list() == []  # removed on purpose stays removed


async def test_unreachable_node(eng: Engine) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    await eng.nodes.add("lab", url, operator="op")
    with eng.bus.subscription() as events:
        report = await eng.nodes.probe("lab")
        changes = [e for e in _drain(events) if isinstance(e, NodeHealthChanged)]
    assert report.status == "unreachable"
    assert "connection refused" in report.message and url in report.message
    stored = await eng.nodes.get("lab")
    assert (stored.status, stored.last_seen) == ("unreachable", None)
    assert [(c.status, c.previous) for c in changes] == [("unreachable", "unknown")]


async def test_health_ok_and_unauthorized(eng: Engine, node_url: str) -> None:
    await eng.nodes.add("good", node_url, TOKEN, operator="op")
    await eng.nodes.add("badtoken", node_url, "wrong-token", operator="op")
    reports = await eng.nodes.probe_all()
    assert reports["good"].status == "ok" and reports["good"].latency_ms is not None
    assert reports["badtoken"].status == "unauthorized"
    good = await eng.nodes.get("good")
    assert good.last_seen is not None and "file_read_workspace" in good.tools
    # status changes are audited; tokens never are
    records = await eng.audit.page(limit=100)
    assert any(r.action == "node_health" and r.tool == "badtoken" for r in records)
    text = " ".join(str(r.to_dict()) for r in records)
    assert TOKEN not in text and "wrong-token" not in text


async def test_node_tools_go_through_policy_approvals_and_audit(eng: Engine, node_url: str) -> None:
    await eng.nodes.add("win", node_url, TOKEN, operator="op")
    await eng.update_config(
        {
            "tool_enabled": {
                "windows_node_file_read_workspace": True,
                "windows_node_file_write_workspace": True,
            }
        }
    )
    read = await eng.run(
        "windows_node_file_read_workspace", {"path": "hello.txt", "node": "win"}, requester="agent"
    )
    assert read.status == "pending_approval"  # medium risk needs approval by default
    result = await eng.approve(read.approval_request_id or "", operator="alice")
    assert result.status == "ok" and result.result is not None
    assert result.result["content"] == "hello from the node\n"
    escape = await eng.run(
        "windows_node_file_read_workspace",
        {"path": "../ws-secret/secret.txt", "node": "win"},
        dry_run=False,
        approval_id=(
            await eng.grant(
                "windows_node_file_read_workspace",
                {"path": "../ws-secret/secret.txt", "node": "win"},
            )
        ).id,
    )
    # the node's refusal is a refusal here too, not a tool error
    assert escape.status == "refused" and "outside" in (escape.error or "")
    assert "TOP SECRET" not in escape.model_dump_json()
    records = [
        r for r in await eng.audit.page(limit=50) if r.tool == "windows_node_file_read_workspace"
    ]
    assert {r.status for r in records} >= {"ok", "refused", "pending_approval"}


async def test_disabled_or_missing_node(eng: Engine, node_url: str) -> None:
    await eng.update_config(
        {"approval_mode": "auto", "tool_enabled": {"windows_node_file_read_workspace": True}}
    )
    await eng.nodes.add("win", node_url, TOKEN, enabled=False, operator="op")
    off = await eng.run("windows_node_file_read_workspace", {"path": "hello.txt", "node": "win"})
    assert off.status == "refused" and "disabled" in (off.error or "")
    missing = await eng.run(
        "windows_node_file_read_workspace", {"path": "hello.txt", "node": "ghost"}
    )
    assert missing.status == "error" and "ghost" in (missing.error or "")


@pytest.mark.parametrize(
    ("name", "url", "token", "field"),
    [
        ("bad name", "http://127.0.0.1:1", None, "name"),
        ("ok", "ftp://host", None, "url"),
        ("ok", "http://", None, "url"),
        ("ok", "http://host:99999", None, "url"),
        ("ok", "http://host:1", "has space", "token"),
    ],
)
async def test_bad_node_input_changes_nothing(
    eng: Engine, name: str, url: str, token: str | None, field: str
) -> None:
    before = (await eng.nodes.list(), await eng.audit.count())
    with pytest.raises(InputError) as info:
        await eng.nodes.add(name, url, token, operator="op")
    assert info.value.message.startswith(field)
    assert (await eng.nodes.list(), await eng.audit.count()) == before


async def test_edit_and_remove_are_audited(eng: Engine) -> None:
    await eng.nodes.add("lab", "http://127.0.0.1:9", operator="alice")
    with pytest.raises(InputError):
        await eng.nodes.add("lab", "http://127.0.0.1:9", operator="alice")
    edited = await eng.nodes.update(
        "lab", url="http://127.0.0.1:10", token="new-token-1", operator="alice"
    )
    assert edited.url == "http://127.0.0.1:10" and edited.token == "new-token-1"
    await eng.nodes.remove("lab", operator="alice")
    with pytest.raises(NotFoundError):
        await eng.nodes.get("lab")
    actions = [r.action for r in await eng.audit.page(limit=10) if r.tool == "lab"]
    assert actions == ["node_remove", "node_edit", "node_add"]
    assert "new-token-1" not in str([r.to_dict() for r in await eng.audit.page(limit=10)])


def _drain(queue):  # type: ignore[no-untyped-def]
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_a_node_name_with_a_trailing_newline_is_refused(eng: Engine) -> None:
    name = "lab\n"
    with pytest.raises(InputError, match="name:"):
        await eng.nodes.add(name, "http://127.0.0.1:9", None, operator="op")
    assert all(n.name != name.strip() for n in await eng.nodes.list())
