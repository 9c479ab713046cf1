"""Benchmark 13: `audit verify`, full and incremental, against a plain hash loop, one run.

- full: the engine's verify against a bare loop over the same rows computing the same
  hashes (sqlite3 cursor, `record_hash` per row, compare), and against the verify as it was
  before issue 19 (records as dataclasses, one async batch at a time), interleaved;
- incremental: 10,000 new records appended through the audit log's own append, then
  `verify(incremental=True)` from the checkpoint the previous verify sealed, per round;
  and the same with no older slice (`slice_size=0`): new records only, the target's case.

    python make_audit_db.py /tmp/h19a/d1m.db --workspace /tmp/h19a/ws1 -n 1000000
    python bench_verify.py /tmp/h19a/d1m.db --workspace /tmp/h19a/ws1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import time
from pathlib import Path

from common import header, stats_ms

from engine import AuditEntry, Engine, load_settings
from engine.audit import _VALUE_FIELDS, GENESIS, _hashed_fields, record_hash
from engine.storage.database import SyncTransaction

COLUMNS = (
    "id, ts, actor, action, tool, args, status, error, duration_ms, result_summary, "
    "trace_id, task_id, approval_id, prev_hash, hash"
)


def plain_loop(db: Path) -> tuple[float, int]:
    """The floor: read every row, compute its hash, compare. (seconds, records)."""
    conn = sqlite3.connect(db)
    start = time.perf_counter()
    prev, n = GENESIS, 0
    for row in conn.execute(f"SELECT {COLUMNS} FROM audit ORDER BY id"):
        if row[13] != prev or record_hash(prev, list(row[:13])) != row[14]:
            raise SystemExit(f"record {row[0]} does not verify")
        prev, n = row[14], n + 1
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, n


async def before_issue_19(eng: Engine) -> float:
    """The verify loop as it was: AuditRecord per row from `iterate`, a dict per record."""
    start = time.perf_counter()
    expected = GENESIS
    async for rec in eng.audit.iterate():
        values = {k: getattr(rec, k) for k in _VALUE_FIELDS}
        if rec.prev_hash != expected:
            raise SystemExit(f"record {rec.id} does not link")
        if record_hash(rec.prev_hash, _hashed_fields(rec.id, rec.ts, values)) != rec.hash:
            raise SystemExit(f"record {rec.id} was modified")
        expected = rec.hash
    return time.perf_counter() - start


async def append_many(eng: Engine, count: int) -> None:
    def batch(stx: SyncTransaction, n: int) -> None:
        for i in range(n):
            eng.audit.append_sync(
                stx,
                AuditEntry(
                    actor="agent:bench",
                    action="run",
                    tool="git_status",
                    status="ok",
                    args={"path": f"src/new_{i}.py"},
                    result_summary='{"n":1}',
                    trace_id=f"{i:016x}",
                ),
            )

    for _ in range(count // 500):
        await eng.db.write(lambda stx: batch(stx, 500))


async def main(db: Path, ws: Path, rounds: int, new: int) -> None:
    header("audit verify: full and incremental vs a plain hash loop")
    settings = load_settings(env_file=None, DAENA_DB_PATH=str(db), EXECUTION_WORKSPACE_ROOT=str(ws))
    async with Engine.open(settings) as eng:
        await eng.sweeper.idle.wait()
        engine_full, plain, before = [], [], []
        cpu = {"engine": 0.0, "plain": 0.0}  # process CPU seconds: steadier than wall time
        for _ in range(rounds):
            c = time.process_time()
            elapsed, records = plain_loop(db)
            cpu["plain"] += time.process_time() - c
            plain.append(elapsed)
            c = time.process_time()
            start = time.perf_counter()
            report = await eng.audit.verify()
            engine_full.append(time.perf_counter() - start)
            cpu["engine"] += time.process_time() - c
            assert report.ok, report.problem
            if not before:
                before.append(await before_issue_19(eng))
        print(f"records: {records:,}")
        print(f"full verify, engine: {stats_ms(engine_full)}")
        print(f"full verify, plain hash loop: {stats_ms(plain)}")
        print(f"full verify, as before issue 19: {stats_ms(before)}")
        ratio = statistics.median(engine_full) / statistics.median(plain)
        print(f"ratio engine/plain loop (medians): {ratio:.2f}x")
        print(f"per record: engine {statistics.median(engine_full) / records * 1e6:.2f} us")
        print(f"CPU time ratio engine/plain loop: {cpu['engine'] / cpu['plain']:.2f}x")

        incremental, incremental_cpu, older = [], [], 0
        for _ in range(rounds + 2):
            await append_many(eng, new)
            c = time.process_time()
            start = time.perf_counter()
            report = await eng.audit.verify(incremental=True)
            incremental.append(time.perf_counter() - start)
            incremental_cpu.append(time.process_time() - c)
            assert report.ok and report.extra["new"] == new, report
            older = report.checked - new
        print(
            f"incremental verify, {new:,} new records (+ {older:,} older re-checked): "
            f"{stats_ms(incremental)}; CPU {stats_ms(incremental_cpu)}"
        )
        only_new = []
        for _ in range(rounds + 2):  # the target's own case: new records only, no older slice
            await append_many(eng, new)
            start = time.perf_counter()
            report = await eng.audit.verify(incremental=True, slice_size=0)
            only_new.append(time.perf_counter() - start)
            assert report.ok and report.checked == new, report
        only = stats_ms(only_new)
        print(f"incremental verify, {new:,} new records only (no older slice): {only}")
        floor = statistics.median(plain) / records * (new + older) * 1000
        print(f"the plain loop's cost for as many records: {floor:.1f} ms")
        start = time.perf_counter()
        report = await eng.audit.verify(incremental=True, slice_size=0)
        print(
            f"incremental verify with nothing new and no older slice: "
            f"{(time.perf_counter() - start) * 1000:.1f} ms"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.workspace, args.rounds, args.new))
