"""Nodes (docs/windows_node.md) against hostile nodes: every probe and every node call ends by its
deadline however the node dribbles its answer, and an oversized answer is refused, not stored.

Each call is guarded by a generous `wait_for` so a regression fails instead of hanging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from engine import Engine
from engine.errors import NodeError
from engine.nodes import NodeClient
from engine.nodes.client import MAX_VERSION_CHARS
from tests.support.hostile_nodes import hostile_node

GUARD_SEC = 30.0


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.mark.parametrize("behaviour", ["trickle", "hang"])
async def test_a_probe_ends_by_its_deadline(http: httpx.AsyncClient, behaviour: str) -> None:
    with hostile_node(behaviour) as url:
        report = await asyncio.wait_for(NodeClient(http).probe(url, None, timeout=3), GUARD_SEC)
    assert report.status == "unreachable"
    assert "within 3s" in report.message


@pytest.mark.parametrize("behaviour", ["trickle", "hang"])
async def test_a_node_call_ends_by_its_deadline(http: httpx.AsyncClient, behaviour: str) -> None:
    with hostile_node(behaviour) as url, pytest.raises(NodeError, match="within 3s"):
        await asyncio.wait_for(
            NodeClient(http).run_tool(url, None, "safe_shell_exec", {"command": "x"}, timeout=3),
            GUARD_SEC,
        )


@pytest.mark.parametrize("behaviour", ["flood", "flood_unannounced"])
async def test_a_flooding_health_answer_is_refused(http: httpx.AsyncClient, behaviour: str) -> None:
    with hostile_node(behaviour) as url:
        report = await asyncio.wait_for(NodeClient(http).probe(url, None), GUARD_SEC)
    assert report.status == "error"
    assert "too large" in report.message and report.version is None


@pytest.mark.parametrize("behaviour", ["flood", "flood_unannounced"])
async def test_a_flooding_tool_answer_is_refused(http: httpx.AsyncClient, behaviour: str) -> None:
    client = NodeClient(http, max_answer_bytes=1_000_000)
    with hostile_node(behaviour) as url, pytest.raises(NodeError, match="too large"):
        await asyncio.wait_for(
            client.run_tool(url, None, "file_read_workspace", {"path": "x"}), GUARD_SEC
        )


async def test_a_long_version_is_stored_and_shown_capped(eng: Engine) -> None:
    with hostile_node("long_version") as url:
        await eng.nodes.add("standin", url, None, operator="op")
        report = await asyncio.wait_for(eng.nodes.probe("standin"), GUARD_SEC)
    assert report.status == "ok"
    stored = (await eng.nodes.get("standin")).version or ""
    assert stored.startswith("1.777") and len(stored) <= MAX_VERSION_CHARS
    assert report.version == stored
