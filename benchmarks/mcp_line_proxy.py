"""The leanest MCP proxy: JSON-RPC lines passed through, no SDK in the middle.

Figure 9's second floor. `mcp_bare_proxy.py` is what any gateway built on the SDK costs;
this is what any gateway written in Python costs at all: each line from the client is
parsed once (to learn its id and method) and written to the upstream's stdin as it came,
each line from the upstream is parsed once and written to the client. With `--commit PATH`
the answer to a `tools/call` is held until one row is committed to an SQLite file in WAL
mode at `synchronous=FULL` (one fsync, on the event loop's own thread: not even the hand-off
a real gateway makes) - the least a gateway that keeps "acknowledged means durable" adds.

    python mcp_line_proxy.py [--commit PATH] -- UPSTREAM_COMMAND ARGS...
"""

from __future__ import annotations

import asyncio
import json
import sys

from mcp_bare_proxy import commit_one, open_log, parse_proxy_args

LIMIT = 16 * 1024 * 1024


async def main(argv: list[str], commit: str | None) -> None:
    log = open_log(commit) if commit else None
    loop = asyncio.get_running_loop()
    client = asyncio.StreamReader(limit=LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(client), sys.stdin)
    out = sys.stdout.buffer
    upstream = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=LIMIT
    )
    assert upstream.stdin is not None and upstream.stdout is not None
    calls: dict[object, str] = {}  # tools/call ids waiting for their answer -> tool name

    async def answers() -> None:
        assert upstream.stdout is not None
        while line := await upstream.stdout.readline():
            message = json.loads(line)
            tool = calls.pop(message.get("id"), None) if "method" not in message else None
            if tool is not None and log is not None:
                commit_one(log, tool)
            out.write(line)
            out.flush()

    forward = asyncio.create_task(answers())
    while line := await client.readline():
        message = json.loads(line)
        if message.get("method") == "tools/call":
            calls[message.get("id")] = str(message.get("params", {}).get("name"))
        upstream.stdin.write(line)
    upstream.stdin.close()
    await forward
    await upstream.wait()


if __name__ == "__main__":
    asyncio.run(main(*parse_proxy_args(__doc__)))
