"""Benchmark 1: engine overhead per audited dry run, and audited runs per second.

Each run goes through the whole pipeline: policy read, argument validation, dry-run
execution, one audit record (hash-chained) and its event, committed to SQLite (WAL).
Target: ≥ 2,000 audited runs per second on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from common import bench_settings, header, stats_ms, temp_dir

from engine import Engine
from engine.storage.group_commit import GroupCommit


async def main(n: int, concurrency: int, group_commit: bool) -> None:
    header("audited dry runs")
    if not group_commit:  # every write its own transaction, as before group commit
        GroupCommit.idle = lambda self, lock: True  # type: ignore[method-assign]
    print(f"group commit: {'on' if group_commit else 'off (--no-group-commit)'}")
    settings = bench_settings(temp_dir("runs"))
    async with Engine.open(settings) as eng:
        for _ in range(200):  # warm-up
            await eng.run("git_status", dry_run=True)
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            result = await eng.run("git_status", dry_run=True)
            samples.append(time.perf_counter() - start)
            assert result.status == "dry_run"
        print(f"sequential latency per audited dry run: {stats_ms(samples)}")
        print(f"sequential throughput: {n / sum(samples):,.0f} runs/s")

        async def worker(count: int) -> None:
            for _ in range(count):
                await eng.run("git_status", dry_run=True)

        start = time.perf_counter()
        await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        print(f"concurrent ({concurrency} tasks) throughput: {n / elapsed:,.0f} runs/s")
        report = await eng.audit.verify()
        print(f"audit chain after the run: ok={report.ok}, {report.checked} records")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--no-group-commit",
        action="store_true",
        help="every write in its own transaction (the A/B baseline for group commit)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.n, args.concurrency, not args.no_group_commit))
