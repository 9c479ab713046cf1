"""`daena serve` drains the audit search backlog (records written before the index caught
up): the real command in its own process, on loopback, against a real database."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import Engine, Settings
from tests.support.audit_index import assert_search_index_exact

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from daena_tui import cli\nsys.exit(cli.main(sys.argv[1:]))"


def indexed_through(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT indexed_through FROM audit_search_state").fetchone()[0])
    finally:
        conn.close()


async def make_backlog(settings: Settings, n: int) -> int:
    """`n` audited runs, then the index forgotten, as a database from before it; newest id."""
    async with Engine.open(settings) as eng:
        for _ in range(n):
            await eng.run("git_status", dry_run=True)
        await eng.db.write(
            lambda stx: (
                stx.execute("INSERT INTO audit_search (audit_search) VALUES ('delete-all')"),
                stx.execute("UPDATE audit_search_state SET indexed_through = 0"),
            )
        )
        return await eng.audit.last_id()


@pytest.mark.no_postgres  # SQLite's FTS5 backlog
def test_daena_serve_drains_the_audit_search_backlog(settings: Settings, tmp_path: Path) -> None:
    db = settings.daena_db_path
    newest = asyncio.run(make_backlog(settings, 300))
    assert indexed_through(db) == 0
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DAENA_DB_PATH", "EXECUTION_TOKEN")}
    env |= {"EXECUTION_TOKEN": "t" * 32, "PYTHONPATH": str(ROOT)}
    args = ["--db", str(db), "--workspace", str(settings.execution_workspace_root)]
    args += ["--env-file", str(empty_env), "serve", "--port", "0", "--log-level", "warning"]
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "daena API on" in line, line + (proc.stderr.read() if proc.stderr else "")
        deadline = time.monotonic() + 60
        while indexed_through(db) < newest and time.monotonic() < deadline:
            time.sleep(0.1)
        assert indexed_through(db) >= newest  # nothing searched or asked for: serve did it
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)

    async def exact() -> None:
        async with Engine.open(settings) as eng:
            await assert_search_index_exact(eng)

    asyncio.run(exact())
