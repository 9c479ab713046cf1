"""Benchmark 16: the audited run path against a bare aiosqlite INSERT + COMMIT, one run.

The engine side is one audited dry run (`eng.run("git_status", dry_run=True)`: policy,
arguments, the dry run, its hash-chained record, the head, its event, one commit). The bare
side is the least a durable record can cost: an aiosqlite connection with the engine's
pragmas (WAL, `synchronous` as the engine sets it, busy timeout) inserting one row of the
same size into a table shaped like the audit table (same columns and indexes) and
committing. Samples alternate between the two in blocks, so both see the same machine.

    python bench_run_path.py --rounds 20 --block 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiosqlite
from common import bench_settings, header, stats_ms, temp_dir

from engine import Engine
from engine.storage.database import BUSY_TIMEOUT_MS, SYNCHRONOUS

TABLE = """
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, tool TEXT, args TEXT, status TEXT NOT NULL, error TEXT,
    duration_ms REAL, result_summary TEXT, trace_id TEXT, task_id TEXT, approval_id TEXT,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE INDEX audit_by_tool ON audit (tool, id);
CREATE INDEX audit_by_status ON audit (status, id);
CREATE INDEX audit_by_ts ON audit (ts);
CREATE INDEX audit_by_task ON audit (task_id, id);
"""


async def bare_connection(path: str) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path)
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.executescript(TABLE)
    return conn


async def bare_insert(conn: aiosqlite.Connection, row: tuple[object, ...]) -> None:
    await conn.execute(
        "INSERT INTO audit (ts, actor, action, tool, args, status, error, duration_ms, "
        "result_summary, trace_id, task_id, approval_id, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (time.time(), *row),
    )
    await conn.commit()


async def main(rounds: int, block: int) -> None:
    header("audited run path vs a bare aiosqlite INSERT + COMMIT")
    root = temp_dir("run-path")
    print(f"synchronous={SYNCHRONOUS} on both sides")
    async with Engine.open(bench_settings(root)) as eng:
        await eng.sweeper.idle.wait()
        for _ in range(200):
            await eng.run("git_status", dry_run=True)
        sample = (await eng.audit.page(limit=1))[0]
        row = (
            sample.actor,
            sample.action,
            sample.tool,
            sample.args,
            sample.status,
            sample.error,
            sample.duration_ms,
            sample.result_summary,
            sample.trace_id,
            sample.task_id,
            sample.approval_id,
            sample.prev_hash,
            sample.hash,
        )
        bare = await bare_connection(str(root / "bare.db"))
        for _ in range(200):
            await bare_insert(bare, row)
        engine_s: list[float] = []
        bare_s: list[float] = []
        cpu = {"engine": 0.0, "bare": 0.0}  # process CPU (all threads): steadier under load
        for _ in range(rounds):
            c = time.process_time()
            for _ in range(block):
                start = time.perf_counter()
                await eng.run("git_status", dry_run=True)
                engine_s.append(time.perf_counter() - start)
            cpu["engine"] += time.process_time() - c
            c = time.process_time()
            for _ in range(block):
                start = time.perf_counter()
                await bare_insert(bare, row)
                bare_s.append(time.perf_counter() - start)
            cpu["bare"] += time.process_time() - c
        await bare.close()
    print(f"audited dry run: {stats_ms(engine_s)}")
    print(f"bare aiosqlite INSERT + COMMIT: {stats_ms(bare_s)}")
    ratio = statistics.median(engine_s) / statistics.median(bare_s)
    print(f"ratio (medians): {ratio:.2f}x")
    print(f"ratio (means): {statistics.mean(engine_s) / statistics.mean(bare_s):.2f}x")
    n = rounds * block
    print(
        f"CPU per call: engine {cpu['engine'] / n * 1e6:.0f} us, "
        f"bare {cpu['bare'] / n * 1e6:.0f} us ({cpu['engine'] / cpu['bare']:.2f}x)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--block", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.block))
