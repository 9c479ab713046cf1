"""A process serving `daena_tui.mcp.stdio.pipe_stdio`: it echoes every message it reads
and reports a bad line as a notification. Before serving, a child process writes to what
it was given as stdout and reads its stdin: the test checks both went elsewhere."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import mcp_types as types
from mcp.shared.message import SessionMessage

from daena_tui.mcp.stdio import pipe_stdio

CHILD = (
    "import sys; print('stray output from a child'); print('child read', repr(sys.stdin.read()))"
)


async def main() -> None:
    async with pipe_stdio() as (read, write):
        subprocess.run([sys.executable, "-c", CHILD], check=True)  # inherits fds 0 and 1
        print("stray print from the server", flush=True)
        async for item in read:
            if isinstance(item, Exception):
                note = types.JSONRPCNotification(
                    jsonrpc="2.0", method="bad_line", params={"error": str(item)[:200]}
                )
                await write.send(SessionMessage(note))
            else:
                await write.send(item)


asyncio.run(main())
