"""Benchmark: the MCP gateway's overhead, measured interleaved in one run.

Every round makes one call on each path, in rotating order, so load from other processes
on this machine falls on all of them alike:

1. direct: the SDK's client, connected to `mcp-server-time`, calls `get_current_time`;
2. gateway: the SDK's client, connected to `daena mcp serve`, calls the same upstream tool
   (`time.get_current_time`, enabled and pinned, low risk) through the executor: policy,
   argument check against the upstream's schema, the pin check, the call, the audit record;
3. bare proxy: the same client through `mcp_bare_proxy.py`, which only forwards the call
   with the SDK's client (same stdio transport as 2): two round trips in series, nothing
   else. The floor of any gateway built on the SDK;
4. bare proxy + commit: 3 plus one fsync'd SQLite commit per call before answering: the
   floor of any such gateway that keeps "acknowledged means durable";
5. engine: the same tool through `Engine.run` in this process (no outer MCP hop);
6. engine, pin check every call: as 5 with PIN_MAX_AGE_SEC = 0 (a `tools/list` before
   each call, the behaviour before the pin-check listing was reused);
7. builtin: `git_status` (low risk, no upstream) through `daena mcp serve`;
8. one committed audit record alone (fsync'd): the floor every run pays;
9. the gateway's MCP server in this process over the SDK's in-memory transport;
10. a realistic low-risk upstream tool: `mcp-server-git`'s `git_status` on the benchmark's
    repository, directly and through `daena mcp serve` (`git.git_status`);
11. line proxy: the same client through `mcp_line_proxy.py`, which passes the JSON-RPC
    lines through with no SDK in the middle (one parse each way): the floor of any
    gateway written in Python; and the same with one fsync'd commit per answer.

Wall time per call (median, p95) and CPU per call: the CPU every process of the benchmark
(this one and all its children: the servers, Daena's upstreams) used during the call, read
from /proc/PID/task/*/schedstat, so it does not depend on how long the scheduler kept a
ready process waiting. The ratio of medians gateway / direct is the gateway's overhead
(target <= 1.5x), printed with the same ratio for the floors (3, 4) and in CPU. Then
calls/s through `daena mcp serve`: one call at a time, and 8 in flight.
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
from mcp.client.stdio import get_default_environment

import engine.upstream.gateway as gateway_module
from daena_tui.mcp.server import Gateway
from engine import Engine
from engine.audit import AuditEntry
from engine.upstream.connection import Endpoint

TIME_ARGV = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
ARGS = {"timezone": "Europe/Paris"}
IN_FLIGHT = 8
PROXY = str(Path(__file__).with_name("mcp_bare_proxy.py"))
LINE_PROXY = str(Path(__file__).with_name("mcp_line_proxy.py"))
ROOT = str(Path(__file__).resolve().parent.parent)
"""The checkout this script is in: its servers run its code, not an installed copy's."""


def serve(settings_db: Path, workspace: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        env=environment(),
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


def environment() -> dict[str, str]:
    return {**get_default_environment(), "PYTHONPATH": ROOT}


def command(argv: list[str]) -> StdioServerParameters:
    return StdioServerParameters(command=argv[0], args=argv[1:], env=environment())


async def connect(stack: AsyncExitStack, params: StdioServerParameters) -> ClientSession:
    read, write = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


def children_cpu_ns() -> int:
    """CPU time (ns) used so far by every live descendant of this process, all threads."""
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                if pid != os.getpid():
                    total += int((task / "schedstat").read_text().split()[0])
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except (OSError, ValueError, IndexError):  # a process that just ended
                continue
    return total


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
    repo = str(settings.execution_workspace_root)
    git_argv = [sys.executable, "-m", "mcp_server_git", "--repository", repo]
    async with Engine.open(settings) as eng:
        await eng.upstream.add("time", Endpoint(tuple(TIME_ARGV)), "bench")
        await eng.upstream.add("git", Endpoint(tuple(git_argv)), "bench")
    async with Engine.open(settings) as eng:  # as `daena mcp enable` would, in a new process
        for name in ("time.get_current_time", "git.git_status"):
            tool = await eng.upstream.enable(name, None, "bench")
            print(f"{name}: risk {tool.risk} (from the upstream's annotations)")
    params = serve(settings.daena_db_path, settings.execution_workspace_root)
    proxy = [sys.executable, PROXY, "--", *TIME_ARGV]
    committing = [sys.executable, PROXY, "--commit", str(root / "proxy.db"), "--", *TIME_ARGV]
    line = [sys.executable, LINE_PROXY, "--", *TIME_ARGV]
    line_commit = [sys.executable, LINE_PROXY, "--commit", str(root / "line.db"), "--", *TIME_ARGV]
    git_args = {"repo_path": repo}
    async with AsyncExitStack() as stack:
        direct = await connect(stack, command(TIME_ARGV))
        through = await connect(stack, params)
        bare = await connect(stack, command(proxy))
        bare_commit = await connect(stack, command(committing))
        git_direct = await connect(stack, command(git_argv))
        lean = await connect(stack, command(line))
        lean_commit = await connect(stack, command(line_commit))
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
            "bare SDK proxy, no policy, no audit (floor)": checked(
                lambda: bare.call_tool("get_current_time", ARGS)
            ),
            "bare SDK proxy + one fsync'd commit (durable floor)": checked(
                lambda: bare_commit.call_tool("get_current_time", ARGS)
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
            "realistic: direct SDK call to mcp-server-git git_status": checked(
                lambda: git_direct.call_tool("git_status", git_args)
            ),
            "realistic: git.git_status through daena mcp serve": checked(
                lambda: through.call_tool("git.git_status", git_args)
            ),
            "line proxy, no SDK in the middle (the floor of any Python gateway)": checked(
                lambda: lean.call_tool("get_current_time", ARGS)
            ),
            "line proxy + one fsync'd commit (its durable floor)": checked(
                lambda: lean_commit.call_tool("get_current_time", ARGS)
            ),
        }
        for call in paths.values():  # warm-up: imports, first connection to the upstream
            for _ in range(5):
                await call()
        samples: dict[str, list[float]] = {label: [] for label in paths}
        cpu: dict[str, int] = dict.fromkeys(paths, 0)
        order = list(paths.items())
        for i in range(rounds):
            shift = i % len(order)
            for label, call in order[shift:] + order[:shift]:
                others = children_cpu_ns()
                own = time.process_time_ns()
                started = time.perf_counter()
                await call()
                samples[label].append(time.perf_counter() - started)
                own = time.process_time_ns() - own
                cpu[label] += own + children_cpu_ns() - others
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
        print(f"{label}: {stats_ms(values)}, CPU {cpu[label] / rounds / 1e6:.3f} ms/call")
    report(paths, samples, cpu)
    builtin = samples["git_status through daena mcp serve"]
    one_at_a_time = len(builtin) / sum(builtin)
    print(f"git_status through daena mcp serve: {one_at_a_time:.0f} calls/s one at a time")
    print(
        f"git_status through daena mcp serve, {IN_FLIGHT} in flight: "
        f"{burst / concurrent:.0f} calls/s ({burst} calls)"
    )


def report(paths: dict[str, Any], samples: dict[str, list[float]], cpu: dict[str, int]) -> None:
    """The ratios, each of two paths measured in this one run."""
    labels = list(paths)
    medians = {label: statistics.median(values) * 1000 for label, values in samples.items()}
    (direct, gateway, bare, durable, engine_run, listing, _, commit, memory, git_direct, git_gw) = (
        labels[:11]
    )
    line, line_durable = labels[11:]

    def ratio(a: str, b: str) -> str:
        return f"{medians[a] / medians[b]:.2f}x wall, {cpu[a] / cpu[b]:.2f}x CPU"

    print(
        f"overhead ratio (median gateway / median direct): {ratio(gateway, direct)}"
        " (target <= 1.5x)"
    )
    print(f"floor, bare SDK proxy / direct: {ratio(bare, direct)}")
    print(f"durable floor, bare SDK proxy + commit / direct: {ratio(durable, direct)}")
    print(f"gateway / durable floor (Daena's own work): {ratio(gateway, durable)}")
    print(f"floor of any Python gateway, line proxy / direct: {ratio(line, direct)}")
    print(f"its durable floor, line proxy + commit / direct: {ratio(line_durable, direct)}")
    print(f"realistic, git_status through the gateway / direct: {ratio(git_gw, git_direct)}")
    print(f"pin check listing on every call / reused listing: {ratio(listing, engine_run)}")
    print(
        "in-memory gateway / Engine.run (the SDK's per-message work, no pipes): "
        f"{ratio(memory, engine_run)}"
    )
    print(
        f"the gateway's median {medians[gateway]:.2f} ms = the bare proxy {medians[bare]:.2f} "
        f"+ one outcome commit ({medians[durable] - medians[bare]:.2f} in the proxy; "
        f"{medians[commit]:.2f} for an audit record alone) + Daena's own work "
        f"{medians[gateway] - medians[durable]:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
