"""Red team, promise 2: the API's own address is never scraped, from any process.

`daena serve` named the address it bound as its own service only inside its own process.
The agent also reaches the scraper through other processes on the same database (the MCP
gateway `daena mcp serve`, `daena run`, the console): with loopback opted in, those fetched
the API on any port but the default one, and under `--insecure-local` read operator-only
pages (the configuration, every agent's requests). Real `daena serve` subprocess, real
engine in this process on the same database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine import Engine
from tests.conftest import make_repo, make_settings

ROOT = Path(__file__).resolve().parents[2]
CODE = "import sys; from daena_tui import cli\nsys.exit(cli.main(sys.argv[1:]))"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """`daena serve --insecure-local` on a free loopback port: (its URL, workspace, db)."""
    ws, db = tmp_path / "ws", tmp_path / "state" / "daena.db"
    make_repo(ws)
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("EXECUTION_TOKEN", "DAENA_DB_PATH")}
    env["PYTHONPATH"] = str(ROOT)
    args = ["--db", str(db), "--workspace", str(ws), "--env-file", str(empty)]
    proc = subprocess.Popen(
        [sys.executable, "-c", CODE, *args, "serve", "--port", "0", "--insecure-local"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert " on http://127.0.0.1:" in line, line
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(url + "/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "daena serve did not answer"
                time.sleep(0.05)
        yield url, ws, db
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert not list(db.parent.glob("daena.db.served-*")), "the mark outlived daena serve"


async def test_another_process_never_scrapes_the_served_api(
    served: tuple[str, Path, Path],
) -> None:
    url, ws, db = served
    assert httpx.get(url + "/config", timeout=5).status_code == 200  # insecure-local: operator
    settings = make_settings(
        ws,
        db,
        AUTOMATION_SAFE_MODE="false",
        AUTOMATION_ALLOWED_PRIVATE_ADDRESSES=json.dumps(["127.0.0.1"]),
    )
    async with Engine.open(settings) as eng:  # e.g. the MCP gateway's engine
        await eng.update_config({"approval_mode": "auto"})
        agent = eng.as_agent("mallory")
        port = url.split(":")[2].split("/")[0]
        for target in (url + "/config", f"http://localhost:{port}/", f"http://0x7f.1:{port}/"):
            result = await agent.run("web_scrape_bs4", {"url": target})
            assert result.status == "refused", (target, result.status, result.result)
            assert result.error is not None and "never scraped" in result.error
