"""A bare MCP proxy, the floor figure 9 compares `daena mcp serve` with.

It serves over stdio exactly as `daena mcp serve` does (the SDK's `stdio_server`), lists the
upstream's tools and forwards each call to it with the SDK's client: two JSON-RPC round
trips in series and nothing else, no policy, no pin check, no audit. With `--commit PATH`
each call also commits one row to an SQLite file in WAL mode at `synchronous=FULL` (one
hand-off to a thread, one fsync) before it answers: the least any gateway that keeps
"acknowledged means durable" can add. What `daena mcp serve` costs beyond that is Daena's
own work.

    python mcp_bare_proxy.py [--commit PATH] -- UPSTREAM_COMMAND ARGS...
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

import anyio
import mcp_types as types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server


def open_log(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, ts REAL, tool TEXT)")
    return conn


def commit_one(conn: sqlite3.Connection, tool: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO calls (ts, tool) VALUES (?, ?)", (time.time(), tool))
    conn.execute("COMMIT")


async def main(argv: list[str], commit: str | None) -> None:
    log = open_log(commit) if commit else None
    async with AsyncExitStack() as stack:
        params = StdioServerParameters(command=argv[0], args=argv[1:])
        read, write = await stack.enter_async_context(stdio_client(params))
        upstream = await stack.enter_async_context(ClientSession(read, write))
        await upstream.initialize()

        async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
            return await upstream.list_tools()

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
            result = await upstream.call_tool(params.name, dict(params.arguments or {}))
            if log is not None:
                await asyncio.to_thread(commit_one, log, params.name)
            return result

        server = Server("bare-proxy", on_list_tools=list_tools, on_call_tool=call_tool)
        async with stdio_server() as (r, w):
            await server.run(r, w, server.create_initialization_options())


def parse_proxy_args(doc: str | None) -> tuple[list[str], str | None]:
    """`[--commit PATH] -- UPSTREAM_COMMAND ARGS...`: the upstream's argv and the log's path."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--commit", help="commit one fsync'd SQLite row per call to this file")
    parser.add_argument("upstream", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.upstream[1:] if args.upstream[:1] == ["--"] else args.upstream
    if not command:
        sys.exit("give the upstream's command after --")
    return command, args.commit


if __name__ == "__main__":
    anyio.run(main, *parse_proxy_args(__doc__))
