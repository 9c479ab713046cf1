"""Benchmark: the MCP gateway's overhead, measured interleaved in one run.

Every round makes one call on each path, in rotating order, so load from other processes
on this machine falls on all of them alike:

1. direct: the SDK's client, connected to `mcp-server-time`, calls `get_current_time`;
2. gateway: the SDK's client, connected to `daena mcp serve`, calls the same upstream tool
   (`time.get_current_time`, enabled and pinned) through the executor: policy, argument
   check against the upstream's schema, the pin check, the call, the audit record;
3. engine: the same tool through `Engine.run` in this process (no outer MCP hop): what the
   executor and the upstream call cost without the client-to-Daena leg;
4. engine, pin check every call: as 3 with PIN_MAX_AGE_SEC = 0 (a `tools/list` before
   each call, the behaviour before the pin-check listing was reused);
5. builtin: `git_status` (low risk, no upstream) through `daena mcp serve`;
6. one committed audit record alone (fsync'd): the floor every run pays;
7. the gateway's MCP server in this process over the SDK's in-memory transport: 3 plus the
   SDK's own per-message work on both ends of the outer hop, without the pipes.

The ratio of medians gateway / direct is the gateway's overhead (target <= 1.5x). The
gateway's median is then split into the upstream call (1), the outcome commit (6) and what
is left (the outer hop and Daena's own per-call work); 7 / 3, both in this process, is
what the SDK's per-message work on the outer hop adds. Then calls/s through `daena mcp
serve`: one call at a time, and 8 in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from common import bench_settings, header, stats_ms, temp_dir
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client._memory import InMemoryTransport

import engine.upstream.gateway as gateway_module
from daena_tui.mcp.server import Gateway
from engine import Engine
from engine.audit import AuditEntry
from engine.upstream.connection import Endpoint

TIME_ARGV = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
ARGS = {"timezone": "Europe/Paris"}
IN_FLIGHT = 8


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


async def connect(stack: AsyncExitStack, params: StdioServerParameters) -> ClientSession:
    read, write = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


def checked(call: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        result = await call()
        failed = getattr(result, "is_error", False) or getattr(result, "ok", True) is False
        assert not failed, result

    return run


async def main(rounds: int) -> None:
    header("MCP gateway overhead")
    root = temp_dir("mcp")
    settings = bench_settings(root, DAENA_VOICE_MUTED="true")
    async with Engine.open(settings) as eng:
        await eng.upstream.add("time", Endpoint(tuple(TIME_ARGV)), "bench")
    async with Engine.open(settings) as eng:  # as `daena mcp enable` would, in a new process
        await eng.upstream.enable("time.get_current_time", None, "bench")
    params = serve(settings.daena_db_path, settings.execution_workspace_root)
    async with AsyncExitStack() as stack:
        direct = await connect(
            stack, StdioServerParameters(command=TIME_ARGV[0], args=TIME_ARGV[1:])
        )
        through = await connect(stack, params)
        eng = await stack.enter_async_context(Engine.open(settings))
        max_age = gateway_module.PIN_MAX_AGE_SEC
        in_memory = Gateway(eng, transport="stdio", agent="bench").build()
        read, write = await stack.enter_async_context(InMemoryTransport(in_memory))
        memory = await stack.enter_async_context(ClientSession(read, write))
        await memory.initialize()

        async def every_call_lists() -> Any:
            gateway_module.PIN_MAX_AGE_SEC = 0.0
            try:
                return await eng.run("time.get_current_time", ARGS)
            finally:
                gateway_module.PIN_MAX_AGE_SEC = max_age

        paths: dict[str, Callable[[], Awaitable[None]]] = {
            "direct SDK call to mcp-server-time": checked(
                lambda: direct.call_tool("get_current_time", ARGS)
            ),
            "through daena mcp serve (time.get_current_time)": checked(
                lambda: through.call_tool("time.get_current_time", ARGS)
            ),
            "Engine.run in this process (no outer MCP hop)": checked(
                lambda: eng.run("time.get_current_time", ARGS)
            ),
            "Engine.run, pin check listing on every call": checked(every_call_lists),
            "git_status through daena mcp serve": checked(
                lambda: through.call_tool("git_status", {})
            ),
            "one committed audit record (what every run writes)": checked(
                lambda: eng.audit.record(AuditEntry(actor="bench", action="bench", status="ok"))
            ),
            "the gateway in this process, SDK in-memory transport": checked(
                lambda: memory.call_tool("time.get_current_time", ARGS)
            ),
        }
        for call in paths.values():  # warm-up: imports, first connection to the upstream
            for _ in range(5):
                await call()
        samples: dict[str, list[float]] = {label: [] for label in paths}
        order = list(paths.items())
        for i in range(rounds):
            shift = i % len(order)
            for label, call in order[shift:] + order[:shift]:
                started = time.perf_counter()
                await call()
                samples[label].append(time.perf_counter() - started)
        burst = IN_FLIGHT * max(1, rounds // IN_FLIGHT)
        gate = asyncio.Semaphore(IN_FLIGHT)
        builtin_call = paths["git_status through daena mcp serve"]

        async def one() -> None:
            async with gate:
                await builtin_call()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(burst)))
        concurrent = time.perf_counter() - started
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    for label, values in samples.items():
        print(f"{label}: {stats_ms(values)}")
    medians = {label: statistics.median(values) for label, values in samples.items()}
    labels = list(paths)
    ratio = medians[labels[1]] / medians[labels[0]]
    print(f"overhead ratio (median gateway / median direct): {ratio:.2f}x (target <= 1.5x)")
    print(
        f"pin check listing on every call / reused listing: "
        f"{medians[labels[3]] / medians[labels[2]]:.2f}x"
    )
    direct_ms, gateway_ms = (medians[labels[i]] * 1000 for i in (0, 1))
    commit_ms = medians[labels[5]] * 1000
    print(
        f"the gateway's median {gateway_ms:.2f} ms = the upstream call (as direct) "
        f"{direct_ms:.2f} + one outcome commit {commit_ms:.2f} + the outer hop and Daena's "
        f"own work {gateway_ms - direct_ms - commit_ms:.2f}"
    )
    print(
        "floor if the outer hop cost what a direct call costs, (2 x direct + commit) / direct: "
        f"{(2 * direct_ms + commit_ms) / direct_ms:.2f}x"
    )
    print(
        "in-memory gateway / Engine.run (the SDK's per-message work, no pipes): "
        f"{medians[labels[6]] / medians[labels[2]]:.2f}x"
    )
    builtin = samples[labels[4]]
    one_at_a_time = len(builtin) / sum(builtin)
    print(f"git_status through daena mcp serve: {one_at_a_time:.0f} calls/s one at a time")
    print(
        f"git_status through daena mcp serve, {IN_FLIGHT} in flight: "
        f"{burst / concurrent:.0f} calls/s ({burst} calls)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
