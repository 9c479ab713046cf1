"""Generate a database with N hash-chained audit records (for the 1M-row Logs benchmark)."""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import time
from pathlib import Path

from engine import Engine, audit_head, audit_search, load_settings
from engine.audit import GENESIS, _hashed_fields, record_hash
from engine.storage.database import dumps

TOOLS = ["git_status", "git_diff", "filesystem_read", "shell_exec", "apply_patch", "web_scrape_bs4"]
STATUSES = ["ok"] * 8 + ["error", "refused", "dry_run", "timeout"]


async def create(db: Path, ws: Path) -> None:
    settings = load_settings(env_file=None, DAENA_DB_PATH=str(db), EXECUTION_WORKSPACE_ROOT=str(ws))
    async with Engine.open(settings):
        pass


def fill(db: Path, n: int, batch: int = 20_000) -> None:
    rnd = random.Random(7)
    conn = sqlite3.connect(db)
    # The chain starts afresh, so times rise with ids as in a real log (the engine's own
    # start-up records would otherwise be the oldest ids with the newest times).
    conn.execute("DELETE FROM audit")
    next_id, prev = 1, GENESIS
    ts = time.time() - n * 0.5
    rows = []
    for i in range(n):
        tool = rnd.choice(TOOLS)
        status = rnd.choice(STATUSES)
        values = {
            "actor": rnd.choice(["agent:planner", "alice@ops", "task:nightly"]),
            "action": "run",
            "tool": tool,
            "args": dumps({"path": f"src/module_{i % 5000}.py"}),
            "status": status,
            "error": None if status in ("ok", "dry_run") else f"{tool} failed: code {i % 7}",
            "duration_ms": round(rnd.random() * 50, 3),
            "result_summary": dumps({"n": i}),
            "trace_id": f"{i:016x}",
            "task_id": None,
            "approval_id": None,
        }
        ts += 0.5
        digest = record_hash(prev, _hashed_fields(next_id, ts, values))
        rows.append((next_id, ts, *values.values(), prev, digest))
        prev, next_id = digest, next_id + 1
        if len(rows) >= batch:
            conn.executemany(f"INSERT INTO audit VALUES ({','.join('?' * 15)})", rows)
            conn.commit()
            rows.clear()
    if rows:
        conn.executemany(f"INSERT INTO audit VALUES ({','.join('?' * 15)})", rows)
    audit_head.seal_newest(conn, db)  # the head names the new newest record
    conn.commit()
    conn.close()


def index(db: Path) -> None:
    """Index the records for text search, as the console's background indexer would."""
    conn = sqlite3.connect(db)
    with conn:
        audit_search.rebuild(conn)
    conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("-n", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(create(args.db, args.workspace))
    start = time.perf_counter()
    fill(args.db, args.n)
    print(f"{args.n:,} audit records written in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    index(args.db)
    print(f"search index built in {time.perf_counter() - start:.1f} s")
    print(f"database size: {args.db.stat().st_size / 1e6:,.0f} MB")
