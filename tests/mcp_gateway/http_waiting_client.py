"""An MCP client process for tests: the SDK's streamable HTTP client calls a tool that
needs approval on a running `daena mcp serve --http` and waits until it is killed.

argv: the server's URL, an agent token, the tool, its arguments as JSON. Prints `calling`
once the session is open and the call is on its way.
"""

from __future__ import annotations

import json
import sys

import anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import Implementation


async def main() -> None:
    url, token, tool, arguments = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, client_info=Implementation(name="dropped", version="1")) as s,
    ):
        await s.initialize()
        print("calling", flush=True)
        result = await s.call_tool(tool, arguments)
        print("answered", result.model_dump_json(), flush=True)


if __name__ == "__main__":
    anyio.run(main)
