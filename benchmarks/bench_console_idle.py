"""Idle console: wakeups per second, CPU and RSS of a console nobody touches, and how soon
it still shows another process's change.

The console runs in a real terminal (tmux, benchmarks/console_harness.py) on a SQLite
database. Over `--seconds` it is left alone; we read its threads' context switches from
/proc (a voluntary switch is a thread going to sleep after it woke: wakeups) and its CPU
time. Then an agent process (this one, through its own engine) makes approval requests,
one at a time, and we time from the commit until the header on the console's screen
shows the new pending count. Target (issue 19): a few wakeups a second, <= 0.3 % of a
core, a change visible within 250 ms.

    python benchmarks/bench_console_idle.py [--seconds 60] [--rounds 10] [--section tools]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from common import bench_settings, header, temp_dir
from console_harness import TmuxConsole, usage

from engine import Engine


async def request(eng: Engine, n: int) -> float:
    """One approval request from the agent; returns the moment it committed."""
    result = await eng.as_agent("agent").run(
        "filesystem_write", {"path": f"f{n}.txt", "content": str(n)}
    )
    assert result.approval_request_id is not None, result
    return time.monotonic()


async def main(seconds: float, rounds: int, section: str, pending: int) -> None:
    header(f"idle console ({section} section, {pending} pending requests)")
    settings = bench_settings(temp_dir("idle"))
    async with Engine.open(settings) as eng:
        await eng.set_tool_enabled("filesystem_write", True)
        for n in range(pending):
            await request(eng, 10_000 + n)
        with TmuxConsole(settings, section) as console:
            console.wait_for(f"{pending} pending", 60)
            await asyncio.sleep(5)  # settle: start-up work, first paint
            before = usage(console.pid)
            await asyncio.sleep(seconds)
            after = usage(console.pid)
            cpu, voluntary, involuntary = before.rate(after)
            print(
                f"idle {seconds:.0f} s: {cpu:.2f} % of a core, {voluntary:.1f} wakeups/s "
                f"(voluntary context switches, all threads), {involuntary:.1f} involuntary/s, "
                f"RSS {before.rss / 2**20:.1f} -> {after.rss / 2**20:.1f} MB"
            )
            samples = []
            for n in range(rounds):
                committed = await request(eng, n)
                shown = f"{pending + n + 1} pending"
                await asyncio.to_thread(console.wait_for, shown, 30, 0.002)
                samples.append(time.monotonic() - committed)
                await asyncio.sleep(0.5)
    ms = sorted(s * 1000 for s in samples)
    print(
        "commit in another process to the header's new count on the console's screen: "
        f"median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms (n={len(ms)}; "
        "includes tmux capture polling every 2 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--section", default="tools")
    parser.add_argument("--pending", type=int, default=0, help="requests waiting at the start")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds, args.section, args.pending))
