"""The Nodes section's "Test all" (T): every node probed at once, each row changed as its
answer arrives; a node that never answers holds back only its own row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.engine.test_node_probes import SilentServer
from tests.node_server.conftest import TOKEN, make_workspace, node_settings, serve

from .conftest import started, wait_for


@pytest.fixture
def node_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "node").mkdir()
    with serve(node_settings(make_workspace(tmp_path / "node"))) as running:
        yield running.url


async def test_test_all_shows_each_answer_as_it_arrives(app, eng, node_url) -> None:
    await eng.nodes.remove("windows", operator="op")
    with SilentServer() as silent:
        for i in range(3):
            await eng.nodes.add(f"a-hung-{i}", silent.url, operator="op")
        await eng.nodes.add("z-good", node_url, TOKEN, operator="op")
        async with app.run_test(size=(120, 30)) as pilot:
            await started(pilot)
            await pilot.press("6")
            screen = app.screen
            table = screen.query_one("#nodes-table", DataTable)
            await wait_for(pilot, lambda: table.row_count == 4, "nodes listed")
            await pilot.press("T")
            await wait_for(pilot, lambda: "z-good" in getattr(screen, "arrived", []), "good")
            assert "ok" in str(table.get_cell("z-good", "status"))
            assert screen.arrived[0] == "z-good"  # before any hung node's deadline
            await wait_for(pilot, lambda: len(screen.arrived) == 4, "every node answered", 60)
            assert "unreachable" in str(table.get_cell("a-hung-0", "status"))
