"""Waiting for this process's children to end before a test's event loop closes.

textual-serve starts a console process for every websocket it accepts and reaps it in the
handler's own time; a test that ends first leaves asyncio's subprocess transport to be
collected after the loop closed ("Event loop is closed", an unraisable-exception error)."""

from __future__ import annotations

import asyncio
import time

import psutil


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
