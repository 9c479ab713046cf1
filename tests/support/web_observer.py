"""Helpers for tests of `daena web`: a free port, a websocket handshake's status, and
waiting for this process's children to end before a test's event loop closes.

textual-serve starts a console process for every websocket it accepts and reaps it in the
handler's own time; a test that ends first leaves asyncio's subprocess transport to be
collected after the loop closed ("Event loop is closed", an unraisable-exception error)."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def handshake(url: str, headers: dict[str, str]) -> int:
    """The status a websocket handshake to `url` gets (101 when it connects)."""
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, headers=headers) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as err:
            return err.status


async def children_ended(timeout: float = 10.0) -> None:
    """Until no child of this process is alive (bounded), then one more turn of the loop
    for the handlers that reap them."""
    deadline = time.monotonic() + timeout
    me = psutil.Process()
    while time.monotonic() < deadline:
        alive = [c for c in me.children() if c.is_running() and c.status() != "zombie"]
        if not alive:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
