"""An MCP client process for tests: it launches `daena mcp serve` with the SDK's stdio
client, calls a tool that needs approval, and waits for the answer until it is killed.

argv: a JSON list, the server's command, arguments, cwd and (optionally) environment (from
conftest.serve_params: its DAENA_DB_URL on PostgreSQL); then the tool and its arguments as
JSON. Prints `calling` once the call is on its way.
"""

from __future__ import annotations

import json
import sys

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp_types import Implementation


async def main() -> None:
    command, args, cwd, *env = json.loads(sys.argv[1])
    tool, arguments = sys.argv[2], json.loads(sys.argv[3])
    params = StdioServerParameters(command=command, args=args, cwd=cwd, env=env[0] if env else None)
    async with stdio_client(params) as (read, write):  # noqa: SIM117
        async with ClientSession(
            read, write, client_info=Implementation(name="doomed", version="1")
        ) as session:
            await session.initialize()
            print("calling", flush=True)
            result = await session.call_tool(tool, arguments)
            print("answered", result.model_dump_json(), flush=True)


if __name__ == "__main__":
    anyio.run(main)
