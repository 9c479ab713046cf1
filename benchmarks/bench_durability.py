"""Benchmark: the cost of `synchronous=FULL` (the engine's setting) against `NORMAL`.

In WAL mode NORMAL syncs the WAL only at checkpoints, so the last commits before a power
loss or an OS crash can be lost although the caller was told they were recorded; FULL
syncs the WAL at every commit (docs/reliability.md). Each round runs a batch of real
audited runs (a file read: policy, execution, a hash-chained audit record, one commit) on
a fresh engine with one setting, then the other; rounds alternate the order (A/B, B/A),
so drift of the machine falls on both settings alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from common import bench_settings, header, stats_ms, temp_dir

from engine import Engine


async def batch(setting: str, n: int) -> list[float]:
    settings = bench_settings(temp_dir(f"durability-{setting.lower()}"))
    async with Engine.open(settings) as eng:
        await eng.db.execute_local(f"PRAGMA synchronous = {setting}")  # per connection
        row = await eng.db.fetchone("PRAGMA synchronous")
        assert row is not None and int(row[0]) == {"NORMAL": 1, "FULL": 2}[setting]
        for _ in range(50):  # warm-up
            await eng.run("filesystem_read", {"path": "dir00/file0000.txt"})
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            result = await eng.run("filesystem_read", {"path": "dir00/file0000.txt"})
            samples.append(time.perf_counter() - start)
            assert result.ok
        return samples


async def main(rounds: int, n: int) -> None:
    header("durability: synchronous=FULL vs NORMAL (WAL), audited runs")
    results: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
    medians: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
    for i in range(rounds):
        order = ("NORMAL", "FULL") if i % 2 == 0 else ("FULL", "NORMAL")
        for setting in order:
            samples = await batch(setting, n)
            results[setting].extend(samples)
            medians[setting].append(statistics.median(samples) * 1000)
    for setting, samples in results.items():
        print(f"{setting:6}: {stats_ms(samples)}, {len(samples) / sum(samples):,.0f} runs/s")
        print(f"        round medians (ms): {', '.join(f'{m:.3f}' for m in medians[setting])}")
    ratio = statistics.median(results["FULL"]) / statistics.median(results["NORMAL"])
    print(f"FULL / NORMAL median latency: {ratio:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("-n", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.n))
