"""Idle console: wakeups per second, CPU and RSS of a console nobody touches, and how soon
it still shows another process's change.

The console runs in a real terminal (tmux, benchmarks/console_harness.py) on a SQLite
database. Over `--seconds` it is left alone; we read its threads' context switches from
/proc (a voluntary switch is a thread going to sleep after it woke: wakeups) and its CPU
time. Then an agent process makes approval requests through its own engine, one at a
time, and we time from the commit until the header on the console's screen shows the new
pending count. Target (issue 19): a few wakeups a second, <= 0.3 % of a core, a change
visible within 250 ms.

Variants run one after the other in the same invocation, each on a fresh database:
`before` is the whole project as of `--before` (see bench_console_live.py), `at:COMMIT` the
whole project at COMMIT (e.g. the commit before a change), `new` the code as it is.

    python benchmarks/bench_console_idle.py [--seconds 60] [--rounds 10] [--section tools]
        [--pending 0] [--variants before,new]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import textwrap
import time

from common import bench_settings, header, temp_dir
from console_harness import TmuxConsole, code_at, thread_wakeups, usage

AGENT = textwrap.dedent(
    """
    import asyncio, sys, time
    from engine import Engine, load_settings

    async def main(pending):
        async with Engine.open(load_settings(env_file=None)) as eng:
            await eng.set_tool_enabled("filesystem_write", True)
            agent = eng.as_agent("agent")

            async def ask(n):
                result = await agent.run("filesystem_write", {"path": f"f{n}.txt", "content": "x"})
                assert result.approval_request_id is not None, result

            for n in range(pending):
                await ask(10_000 + n)
            print("ready", flush=True)
            for line in sys.stdin:
                await ask(int(line))
                print(time.monotonic(), flush=True)  # CLOCK_MONOTONIC: one clock for all
    asyncio.run(main(int(sys.argv[1])))
    """
)


async def measure(variant: str, args: argparse.Namespace) -> None:
    settings = bench_settings(temp_dir(f"idle-{variant}"))
    commit = args.before if variant == "before" else variant.removeprefix("at:")
    extra = {"PYTHONPATH": code_at(commit)} if variant != "new" else {}
    env = {**os.environ, **TmuxConsole(settings, args.section).env, **extra}
    agent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        AGENT,
        str(args.pending),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert agent.stdin is not None and agent.stdout is not None
    assert (await agent.stdout.readline()).strip() == b"ready"
    samples = []
    with TmuxConsole(settings, args.section, extra_env=extra) as console:
        console.wait_for(f"{args.pending} pending", 60)
        await asyncio.sleep(5)  # settle: start-up work, first paint
        before, threads = usage(console.pid), thread_wakeups(console.pid)
        await asyncio.sleep(args.seconds)
        after, threads_after = usage(console.pid), thread_wakeups(console.pid)
        cpu, voluntary, involuntary = before.rate(after)
        print(
            f"{variant:>6}: idle {args.seconds:.0f} s: {cpu:.2f} % of a core, "
            f"{voluntary:.1f} wakeups/s (voluntary context switches, all threads), "
            f"{involuntary:.1f} involuntary/s, "
            f"RSS {before.rss / 2**20:.1f} -> {after.rss / 2**20:.1f} MB"
        )
        per_thread = sorted(
            (
                (n - threads.get(tid, 0)) / (after.at - before.at)
                for tid, n in threads_after.items()
            ),
            reverse=True,
        )
        print(
            f"{variant:>6}: wakeups/s per thread, busiest first: "
            + ", ".join(f"{rate:.1f}" for rate in per_thread)
        )
        for n in range(args.rounds):
            agent.stdin.write(f"{n}\n".encode())
            await agent.stdin.drain()
            committed = float((await agent.stdout.readline()).decode())
            shown = f"{args.pending + n + 1} pending"
            await asyncio.to_thread(console.wait_for, shown, 30, 0.002)
            samples.append(time.monotonic() - committed)
            await asyncio.sleep(0.5)
    agent.stdin.close()
    await agent.wait()
    ms = sorted(s * 1000 for s in samples)
    print(
        f"{variant:>6}: commit in another process to the header's new count on the console's "
        f"screen: median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms (n={len(ms)}; "
        "includes tmux capture polling every 2 ms)"
    )


async def main(args: argparse.Namespace) -> None:
    header(f"idle console ({args.section} section, {args.pending} pending requests)")
    for variant in args.variants.split(","):
        await measure(variant, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--section", default="tools")
    parser.add_argument("--pending", type=int, default=0, help="requests waiting at the start")
    parser.add_argument("--variants", default="before,new")
    parser.add_argument("--before", default="faa8431", help="the commit 'before' runs")
    asyncio.run(main(parser.parse_args()))
