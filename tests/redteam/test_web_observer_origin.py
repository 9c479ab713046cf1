"""Red team, the web observer (`daena web`): only its own page opens a console.

A websocket is not bound by the same-origin policy: a page the agent serves on another
loopback port (or any site, by DNS rebinding) may open `ws://127.0.0.1:PORT/ws/TOKEN` from
the observer's browser, and then read the whole console. The token alone kept it out; a
token seen once (a shared link, a screenshot, the browser's history) would have let any
page in. Like the HTTP API's guard (`daena_http/guard.py`), the observer now answers only a
browser on its own origin (scheme, host and port) and only its own Host names, and its page
asks the browser not to send its URL (the token) on as a Referer nor to cache it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

from daena_tui.cli.web_server import TokenServer, run
from tests.support.web_observer import children_ended, free_port, handshake

TOKEN = "observer-token-0123456789abcdef"


@pytest.fixture
async def served(tmp_path: object) -> AsyncIterator[str]:
    port = free_port()
    # A command that only waits: the handshake is what is tested, not the console.
    command = f"{sys.executable} -c pass"
    server = TokenServer(command, TOKEN, host="127.0.0.1", port=port, title="t")
    task = asyncio.create_task(run(server, "127.0.0.1", port))
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"{base}/?token={TOKEN}"):
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    try:
        yield base
    finally:
        await children_ended()  # the consoles the accepted websockets started
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:1",  # the agent's page on another loopback port
        "http://evil.example",
        "null",  # a sandboxed iframe or a file:// page
        "https://127.0.0.1:{port}",  # another scheme
    ],
)
async def test_a_foreign_page_cannot_open_the_observer_even_with_the_token(
    served: str, origin: str
) -> None:
    port = served.rsplit(":", 1)[1]
    ws = served.replace("http:", "ws:") + f"/ws/{TOKEN}"
    assert await handshake(ws, {"Origin": origin.format(port=port)}) == 403


async def test_a_rebound_host_name_is_refused(served: str) -> None:
    port = served.rsplit(":", 1)[1]
    ws = served.replace("http:", "ws:") + f"/ws/{TOKEN}"
    rebound = f"evil.example:{port}"
    assert await handshake(ws, {"Host": rebound, "Origin": f"http://{rebound}"}) == 403
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{served}/?token={TOKEN}", headers={"Host": rebound}) as answer,
    ):
        assert answer.status == 403


async def test_its_own_page_opens_it_and_keeps_the_token_to_itself(served: str) -> None:
    ws = served.replace("http:", "ws:") + f"/ws/{TOKEN}"
    assert await handshake(ws, {"Origin": served}) == 101
    assert await handshake(ws, {}) == 101  # not a browser: the token is the credential
    async with aiohttp.ClientSession() as http, http.get(f"{served}/?token={TOKEN}") as answer:
        assert answer.status == 200
        assert answer.headers.get("Referrer-Policy") == "no-referrer"
        assert "no-store" in answer.headers.get("Cache-Control", "")
