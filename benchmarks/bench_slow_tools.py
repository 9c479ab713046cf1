"""Benchmark 5: latency of `list tools` and of an audited dry run while 10 slow tools run.

Ten `shell_exec sleep 3` runs are in flight (real child processes) while we time the
calls an operator or agent makes meanwhile. Target: ≤ 20 ms each.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from common import bench_settings, header, stats_ms, temp_dir

from engine import Engine


async def main(rounds: int) -> None:
    header("list tools / dry run while 10 slow tools run")
    settings = bench_settings(temp_dir("slow"), SHELL_ALLOWLIST='["sleep", "git status"]')
    async with Engine.open(settings) as eng:
        await eng.update_config({"approval_mode": "auto"})
        slow = [
            asyncio.create_task(eng.run("shell_exec", {"command": "sleep 3", "timeout_sec": 30}))
            for _ in range(10)
        ]
        await asyncio.sleep(0.3)
        list_samples, dry_samples = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            await eng.list_tools()
            list_samples.append(time.perf_counter() - start)
            start = time.perf_counter()
            await eng.run("shell_exec", {"command": "git status"}, dry_run=True)
            dry_samples.append(time.perf_counter() - start)
        still_running = sum(not t.done() for t in slow)
        results = await asyncio.gather(*slow)
    assert all(r.status == "ok" for r in results)
    print(f"slow runs still in flight when sampling ended: {still_running}/10")
    print(f"list tools: {stats_ms(list_samples)}")
    print(f"audited dry run: {stats_ms(dry_samples)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
