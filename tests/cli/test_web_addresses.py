"""`daena web`'s page hands out the address the browser used, so an observer bound to all
interfaces works from another machine (it sent `ws://0.0.0.0:…`), and `--public-url` names
the address behind a proxy; nothing else opens it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from daena_tui.cli.web import check_public_url
from daena_tui.cli.web_server import TokenServer, run
from tests.support.web_observer import children_ended, free_port, handshake

TOKEN = "observer-token-0123456789abcdef"
PUBLIC = "https://observer.example:8443"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., object]]:
    tasks: list[asyncio.Task[None]] = []

    async def start(host: str, public_url: str | None = None) -> int:
        port = free_port()
        server = TokenServer(
            f"{sys.executable} -c pass", TOKEN, public_url=public_url, host=host, port=port
        )
        tasks.append(asyncio.create_task(run(server, host, port)))
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return port
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError("the observer did not listen")

    yield start
    await children_ended()  # the consoles the accepted websockets started
    for task in tasks:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def page(port: int, host: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/?token={TOKEN}", headers={"Host": host}) as r,
    ):
        return r.status, await r.text()


async def handshake_at(port: int, host: str, origin: str) -> int:
    url = f"ws://127.0.0.1:{port}/ws/{TOKEN}"
    return await handshake(url, {"Host": host, "Origin": origin})


async def test_bound_to_all_interfaces_the_page_uses_the_address_the_browser_used(
    serve: Callable[..., object],
) -> None:
    port = await serve("0.0.0.0")  # type: ignore[misc]
    status, text = await page(port, f"localhost:{port}")
    assert status == 200
    assert f"ws://localhost:{port}/ws/{TOKEN}" in text
    assert "0.0.0.0" not in text


async def test_behind_a_proxy_the_public_url_is_used_and_only_its_origin_opens_it(
    serve: Callable[..., object],
) -> None:
    port = await serve("127.0.0.1", PUBLIC)  # type: ignore[misc]
    status, text = await page(port, "observer.example:8443")
    assert status == 200
    assert f"wss://observer.example:8443/ws/{TOKEN}" in text
    assert f"{PUBLIC}/static/" in text
    assert await handshake_at(port, "observer.example:8443", PUBLIC) == 101
    assert await handshake_at(port, "observer.example:8443", "https://evil.example") == 403
    assert (await page(port, "evil.example"))[0] == 403  # still only its own names


@pytest.mark.parametrize(
    "url",
    [
        "ftp://observer.example",
        "https://",
        "https://observer.example/path",
        "https://observer.example/?q=1",
        "https://user@observer.example",
        "https://observer.example:port",
    ],
)
def test_a_bad_public_url_is_refused_naming_the_option(url: str) -> None:
    with pytest.raises(ValueError, match="--public-url"):
        check_public_url(url)


def test_the_cli_says_so_in_one_line_and_exits_2(tmp_path: object) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "daena_tui",
            "web",
            "--public-url",
            "ftp://x",
            "--db",
            f"{tmp_path}/db",
            "--env-file",
            "",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "--public-url" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("junk", ["@evil.example", "/x", '"><script>', "x"])
async def test_a_host_header_that_is_not_host_and_port_is_refused(
    serve: Callable[..., object], junk: str
) -> None:
    """`localhost:1@evil.example` once passed as `localhost` while the page's URLs, built
    from the header, pointed the websocket (and its token) at evil.example."""
    port = await serve("127.0.0.1")  # type: ignore[misc]
    status, text = await page(port, f"localhost:{port}{junk}")
    assert status == 403
    assert TOKEN not in text
