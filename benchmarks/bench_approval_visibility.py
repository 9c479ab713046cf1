"""Benchmark 6: cross-process approval visibility.

The console runs headless (Textual's test driver) on the Approvals section of a database;
a second, long-lived process (the agent) makes risky requests through its own engine and
reports the moment each one committed. We time from that commit until the request's row
is in the console's inbox table. Target: median at most 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import textwrap
import time

from common import bench_settings, header, temp_dir
from textual.widgets import DataTable

from daena_tui.console.app import create_app
from engine import Engine

AGENT = textwrap.dedent(
    """
    import asyncio, sys, time
    from engine import Engine, load_settings

    async def main(db, ws):
        settings = load_settings(env_file=None, DAENA_DB_PATH=db, EXECUTION_WORKSPACE_ROOT=ws)
        async with Engine.open(settings) as eng:
            for line in sys.stdin:
                n = line.strip()
                result = await eng.run(
                    "filesystem_write", {"path": f"f{n}.txt", "content": n}, requester="agent"
                )
                print(result.approval_request_id, time.time(), flush=True)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def main(rounds: int) -> None:
    header("cross-process approval visibility")
    settings = bench_settings(temp_dir("visibility"))
    async with Engine.open(settings) as eng:
        await eng.set_tool_enabled("filesystem_write", True)
    agent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        AGENT,
        str(settings.daena_db_path),
        str(settings.execution_workspace_root),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert agent.stdin is not None and agent.stdout is not None
    app = create_app(settings, initial_section="approvals")
    samples = []
    async with app.run_test(size=(120, 40)) as pilot:
        while app.screen.__class__.__name__ != "ApprovalsScreen":
            await pilot.pause(0.01)
        await pilot.pause(0.5)
        for n in range(rounds):
            agent.stdin.write(f"{n}\n".encode())
            await agent.stdin.drain()
            request_id, committed = (await agent.stdout.readline()).decode().split()
            table = app.screen.query_one("#inbox", DataTable)
            while request_id not in table.rows:
                await asyncio.sleep(0.002)
            samples.append(time.time() - float(committed))
            await pilot.pause(0.2)
    agent.stdin.close()
    await agent.wait()
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        "commit in the agent to row in the console's inbox: "
        f"median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, "
        f"max {ms[-1]:.0f} ms (n={len(ms)})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args().rounds))
