"""Benchmark: the MCP gateway's overhead.

1. Direct: the SDK's client spawns `mcp-server-time` and calls `get_current_time`.
2. Through Daena: the SDK's client spawns `daena mcp serve`, which calls the same upstream
   tool (`time.get_current_time`, enabled and pinned) through the executor: policy,
   argument check against the upstream's schema, the pin check (a tools/list on the live
   connection), the call, and the audit record.
The ratio of the medians is the gateway's overhead (target <= 1.5x). Also: calls/s of a
low-risk built-in tool (`git_status`) through `daena mcp serve`, one call at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from common import bench_settings, header, stats_ms, temp_dir
from mcp import ClientSession, StdioServerParameters, stdio_client

from engine import Engine
from engine.upstream.connection import Endpoint

TIME_ARGV = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
ARGS = {"timezone": "Europe/Paris"}


async def timed_calls(params: StdioServerParameters, tool: str, rounds: int) -> list[float]:
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for _ in range(5):  # warm-up: imports, first connection to the upstream
            result = await session.call_tool(tool, ARGS if "time" in tool else {})
            assert not result.is_error, result
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            result = await session.call_tool(tool, ARGS if "time" in tool else {})
            samples.append(time.perf_counter() - started)
            assert not result.is_error, result
        return samples


def serve(settings_db: Path, workspace: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "daena_tui",
            "--env-file",
            "",
            "--db",
            str(settings_db),
            "--workspace",
            str(workspace),
            "mcp",
            "serve",
            "--agent",
            "bench",
        ],
    )


async def main(rounds: int) -> None:
    header("MCP gateway overhead")
    root = temp_dir("mcp")
    settings = bench_settings(root, DAENA_VOICE_MUTED="true")
    async with Engine.open(settings) as eng:
        await eng.upstream.add("time", Endpoint(tuple(TIME_ARGV)), "bench")
    async with Engine.open(settings) as eng:  # as `daena mcp enable` would, in a new process
        await eng.upstream.enable("time.get_current_time", None, "bench")
    direct = await timed_calls(
        StdioServerParameters(command=TIME_ARGV[0], args=TIME_ARGV[1:]), "get_current_time", rounds
    )
    params = serve(settings.daena_db_path, settings.execution_workspace_root)
    gateway = await timed_calls(params, "time.get_current_time", rounds)
    builtin = await timed_calls(params, "git_status", rounds)
    ratio = statistics.median(gateway) / statistics.median(direct)
    print(f"direct SDK call to mcp-server-time: {stats_ms(direct)}")
    print(f"through daena mcp serve (time.get_current_time): {stats_ms(gateway)}")
    print(f"overhead ratio (median gateway / median direct): {ratio:.2f}x (target <= 1.5x)")
    print(
        f"git_status through daena mcp serve: {stats_ms(builtin)}, "
        f"{len(builtin) / sum(builtin):.0f} calls/s sequential"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
