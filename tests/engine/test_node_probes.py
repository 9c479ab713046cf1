"""Node probes in parallel (issue 19): every enabled node is probed at once, within a bounded
pool and a deadline each; a node that accepts the connection and never answers holds back
only its own result. Real servers on loopback: the node server, and an asyncio server that
accepts and never says a word."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from daena_tui.cli import main
from engine import Engine
from tests.node_server.conftest import TOKEN, make_workspace, node_settings, serve


class SilentServer:
    """Accepts every connection and never answers; counts connections open at once."""

    def __init__(self) -> None:
        self.open = 0
        self.most_open = 0
        self.accepted = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await reader.read()  # until the client gives up and closes
        finally:
            self.open -= 1
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()
        server.close()

    def __enter__(self) -> SilentServer:
        self._thread.start()
        assert self._ready.wait(15)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)


@pytest.fixture
async def nodes(eng: Engine) -> Engine:
    """The engine without its seeded `windows` node: only the nodes a test adds."""
    await eng.nodes.remove("windows", operator="op")
    return eng


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.fixture
def node_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "node").mkdir()
    with serve(node_settings(make_workspace(tmp_path / "node"))) as running:
        yield running.url


async def test_hung_nodes_do_not_hold_back_the_good_ones(
    nodes: Engine, silent: SilentServer, node_url: str
) -> None:
    eng = nodes
    for i in range(6):  # named first: a one-at-a-time probe would reach them first
        await eng.nodes.add(f"a-hung-{i}", silent.url, operator="op")
    for i in range(3):
        await eng.nodes.add(f"z-good-{i}", node_url, TOKEN, operator="op")
    arrived = [(name, r.status) async for name, r in eng.nodes.probe_each(timeout=3)]
    good = [n for n in arrived if n[0].startswith("z-good")]
    hung = [n for n in arrived if n[0].startswith("a-hung")]
    assert arrived[: len(good)] == good  # every good answer came before any hung one
    assert sorted(good) == [(f"z-good-{i}", "ok") for i in range(3)]
    assert sorted(hung) == [(f"a-hung-{i}", "unreachable") for i in range(6)]
    assert silent.most_open == 6  # all the hung ones were in flight together
    stored = {n.name: n for n in await eng.nodes.list()}
    assert "within 3s" in (stored["a-hung-0"].message or "")
    assert stored["z-good-0"].status == "ok"


async def test_the_pool_is_bounded_and_the_round_ends(nodes: Engine, silent: SilentServer) -> None:
    eng = nodes
    for i in range(7):
        await eng.nodes.add(f"hung-{i}", silent.url, operator="op")
    reports = await eng.nodes.probe_all(timeout=0.5, concurrency=3)
    assert list(reports) == [f"hung-{i}" for i in range(7)]  # by name, all of them
    assert {r.status for r in reports.values()} == {"unreachable"}
    assert silent.accepted == 7 and silent.most_open <= 3


async def test_a_disabled_node_is_not_probed(nodes: Engine, silent: SilentServer) -> None:
    eng = nodes
    await eng.nodes.add("off", silent.url, enabled=False, operator="op")
    assert await eng.nodes.probe_all(timeout=0.5) == {}
    assert silent.accepted == 0


def test_nodes_health_finishes_within_its_deadline(
    workspace: Path, db_path: Path, capsys: pytest.CaptureFixture[str], silent: SilentServer
) -> None:
    base = ["--db", str(db_path), "--workspace", str(workspace), "--operator", "op@test"]
    for i in range(5):
        assert main([*base, "nodes", "add", f"hung-{i}", silent.url]) == 0
    capsys.readouterr()
    code = main([*base, "--json", "nodes", "health", "--timeout", "0.5"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # not every node is healthy
    assert sorted(out) == [f"hung-{i}" for i in range(5)] + ["windows"]
    assert all(out[f"hung-{i}"]["status"] == "unreachable" for i in range(5))
    assert silent.most_open >= 5  # probed together, not one after another
    for bad in ("0", "-1", "nan", "301"):
        assert main([*base, "nodes", "health", "--timeout", bad]) == 2
        err = capsys.readouterr().err
        assert "--timeout: must be between 0.1 and 300 seconds" in err
