"""The observer's web server: textual-serve behind a token.

textual-serve starts one console process per browser connection and forwards keys to it;
it has no authentication of its own. Here the page (`/?token=T`) and the websocket
(`/ws/T`, the token in the path because the page's script appends `?width=…` to the URL)
both require the token, compared in constant time; anything else is 403 and starts nothing.
The console it starts is `daena --observer`: the engine is read-only in that process
(engine/observer.py), so even a valid token decides nothing.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from textual_serve.server import Server

MIN_TOKEN_LENGTH = 16


class TokenServer(Server):
    """textual-serve's Server with every route but the static files behind `token`."""

    def __init__(self, command: str, token: str, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self._token = token

    def _allowed(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._token.encode())

    async def _make_app(self) -> web.Application:
        app = web.Application()
        import aiohttp_jinja2
        import jinja2

        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self._index, name="index"),
                web.get("/ws/{token}", self._websocket, name="websocket"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        return app

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request.query.get("token")):
            raise web.HTTPForbidden(text="daena web: a wrong or missing token\n")
        response: web.StreamResponse = await self.handle_index(request)
        return response

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request.match_info.get("token")):
            raise web.HTTPForbidden(text="daena web: a wrong or missing token\n")
        return await self.handle_websocket(request)

    async def handle_index(self, request: web.Request) -> Any:
        """The page, its websocket URL carrying the token in its path (textual-serve's own
        page, with the URLs built here: its router lookup cannot fill in the token)."""
        import aiohttp_jinja2

        ws_base = "wss:" if self.public_url.startswith("https") else "ws:"
        context = {
            "font_size": 16,
            "app_websocket_url": ws_base + self.public_url.split(":", 1)[1] + f"/ws/{self._token}",
            "config": {"static": {"url": f"{self.public_url}/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)


async def run(server: TokenServer, host: str, port: int) -> None:
    """Serve until cancelled (Ctrl+C)."""
    import asyncio

    runner = web.AppRunner(await server._make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
