"""The observer's web server: textual-serve behind a token.

textual-serve starts one console process per browser connection and forwards keys to it;
it has no authentication of its own. Here the page (`/?token=T`) and the websocket
(`/ws/T`, the token in the path because the page's script appends `?width=…` to the URL)
both require the token, compared in constant time; anything else is 403 and starts nothing.
A websocket is not bound by the same-origin policy, so a browser is let in only from the
observer's own page: its `Origin` must be this server's (scheme, host, port) and its `Host`
one of this server's names (no DNS rebinding), as the HTTP API's guard requires. The page
asks the browser not to pass its URL, which holds the token, on as a Referer nor to cache it.
The console it starts is `daena --observer`: the engine is read-only in that process
(engine/observer.py), so even a valid token decides nothing.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from daena_http.guard import same_origin
from engine.safety.hosts import allowed_host_names, normalise_host

MIN_TOKEN_LENGTH = 16
PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class TokenServer(Server):
    """textual-serve's Server with every route but the static files behind `token`."""

    def __init__(
        self, command: str, token: str, *, public_url: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(command, public_url=public_url, **kwargs)
        self._token = token
        self._public_url = public_url  # the browser's address when a proxy stands in front
        public_host = urlsplit(public_url).hostname if public_url else None
        self._hosts = allowed_host_names(self.host, [public_host] if public_host else [])

    def _allowed(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._token.encode())

    def _refusal(self, request: web.Request, token: str | None) -> str | None:
        """Why `request` may not open the page or the console, or None: a wrong token, a
        Host that is not this server's, a browser on another origin."""
        if not self._allowed(token):
            return "a wrong or missing token"
        host = request.headers.get("Host")
        if host is None or normalise_host(host) not in self._hosts:
            return "Host is not one of this server's names"
        origin = request.headers.get("Origin")
        if origin is not None and not self._own_origin(origin, host, request.scheme):
            return "a page on another origin cannot open the observer"
        return None

    def _own_origin(self, origin: str, host: str, scheme: str) -> bool:
        """The page this server sent: reached directly, or through `public_url`'s proxy."""
        if same_origin(origin, host, scheme):
            return True
        if self._public_url is None:
            return False
        public = urlsplit(self._public_url)
        return same_origin(origin, public.netloc, public.scheme)

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
        refusal = self._refusal(request, request.query.get("token"))
        if refusal is not None:
            raise web.HTTPForbidden(text=f"daena web: {refusal}\n", headers=PAGE_HEADERS)
        response: web.StreamResponse = await self.handle_index(request)
        response.headers.update(PAGE_HEADERS)
        return response

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request, request.match_info.get("token"))
        if refusal is not None:
            raise web.HTTPForbidden(text=f"daena web: {refusal}\n")
        return await self.handle_websocket(request)

    async def handle_index(self, request: web.Request) -> Any:
        """The page, its websocket URL carrying the token in its path (textual-serve's own
        page, with the URLs built here: its router lookup cannot fill in the token)."""
        import aiohttp_jinja2

        # The address the browser used (its Host was checked as one of ours), so a server
        # bound to 0.0.0.0 hands out a URL the browser can reach, not ws://0.0.0.0
        base = self._public_url or str(request.url.origin())
        base = base.rstrip("/")
        ws_base = "wss:" if base.startswith("https") else "ws:"
        context = {
            "font_size": 16,
            "app_websocket_url": ws_base + base.split(":", 1)[1] + f"/ws/{self._token}",
            "config": {"static": {"url": f"{base}/static/"}},
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
