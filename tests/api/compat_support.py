"""Real servers for the compatibility suite: `daena serve` as a subprocess on loopback, and
a stand-in of the original system's node (its health answer only), both spoken to with
plain httpx as the original's clients do."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from engine import Engine
from tests.conftest import make_repo, make_settings

ROOT = Path(__file__).resolve().parents[2]
V1 = "/api/v1/execution"
NOWHERE = "http://127.0.0.1:9"  # discard port: refused at once (no Ollama, no node)
START_SEC = 30.0
CLI = "import sys; from daena_tui import cli\nsys.exit(cli.main(sys.argv[1:]))"


@dataclass
class Served:
    """A running `daena serve`: its root URL, its workspace and database."""

    root: str
    workspace: Path
    db: Path

    @property
    def v1(self) -> str:
        return self.root + V1


def base_env(extra: dict[str, str]) -> dict[str, str]:
    drop = ("EXECUTION_TOKEN", "WINDOWS_NODE_TOKEN", "DAENA_DB_PATH", "WINDOWS_NODE_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["OLLAMA_BASE_URL"] = NOWHERE
    env.update(extra)
    return env


def prepare(base: Path) -> tuple[Path, Path, Path]:
    ws = base / "ws"
    make_repo(ws)
    (ws / "notes.txt").write_text("hello from the workspace\n", encoding="utf-8")
    (base / "ws-secret").mkdir()
    (base / "ws-secret" / "x.txt").write_text("sibling secret\n", encoding="utf-8")
    empty = base / "empty.env"
    empty.write_text("", encoding="utf-8")
    return ws, base / "state" / "daena.db", empty


def mint_agent_token(ws: Path, db: Path, name: str, env: dict[str, str]) -> str:
    """An agent credential in the server's database (as `daena agents token create`),
    opened with the server's settings (so the seeded node is the server's)."""
    keep = {k: v for k, v in env.items() if k == "WINDOWS_NODE_URL"}

    async def mint() -> str:
        async with Engine.open(make_settings(ws, db, **keep)) as eng:
            _, token = await eng.credentials.mint(name, operator="op@test", expires_at=None)
            return token

    return asyncio.run(mint())


@contextmanager
def daena_serve(
    base: Path, env: dict[str, str], *, insecure_local: bool = False
) -> Iterator[Served]:
    """`daena serve --port 0` (real uvicorn on 127.0.0.1); stopped with SIGINT afterwards."""
    ws, db, empty = prepare(base)
    yield from _serve(ws, db, empty, env, insecure_local)


def _serve(
    ws: Path, db: Path, empty: Path, env: dict[str, str], insecure_local: bool
) -> Iterator[Served]:
    args = ["--db", str(db), "--workspace", str(ws), "--env-file", str(empty), "serve"]
    args += ["--port", "0", "--log-level", "warning"]
    if insecure_local:
        args.append("--insecure-local")
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=base_env(env),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "daena API on http://127.0.0.1:" not in line:
            raise AssertionError(line + (proc.stderr.read() if proc.stderr else ""))
        root = line.split(" on ", 1)[1].split(" ", 1)[0].removesuffix(V1)
        deadline = time.monotonic() + START_SEC
        while True:
            try:
                httpx.get(root + "/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "daena serve did not answer"
                time.sleep(0.05)
        yield Served(root, ws, db)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def served_with(
    base: Path, env: dict[str, str], agent: str | None = None
) -> Iterator[tuple[Served, str | None]]:
    """Like `daena_serve`, with an agent token minted in its database first."""
    ws, db, empty = prepare(base)
    token = mint_agent_token(ws, db, agent, env) if agent else None
    for served in _serve(ws, db, empty, env, False):
        yield served, token


class _OriginalNode(BaseHTTPRequestHandler):
    """The original node's health route: `{status: "ok", workspace_root}` and nothing more."""

    workspace_root = "/srv/original-ws"

    def do_GET(self) -> None:
        if self.path != "/node/health":
            self.send_error(404)
            return
        body = json.dumps({"status": "ok", "workspace_root": self.workspace_root}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def original_node() -> Iterator[str]:
    """A real HTTP server on loopback answering as the original's node health does."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OriginalNode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
