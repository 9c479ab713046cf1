"""`daena mcp serve --http`: the streamable HTTP transport, for agent tokens only.

Every HTTP request needs an agent token (`daena agents token create NAME`), as
`Authorization: Bearer <token>` or `X-Execution-Token`; its calls are made as that agent
and a session stays bound to the agent that opened it (another token cannot use it). The
operator token is not accepted here: MCP is how agents speak, and agents never decide.
Bound to 127.0.0.1 by default, with the SDK's DNS-rebinding protection for loopback hosts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daena_tui.mcp.server import Gateway
from engine import Engine
from engine.errors import CredentialError, PolicyError

STATE_KEY = "daena_agent"
GONE_KEY = "daena_connection_gone"


class AgentTokenAuth:
    """Pure ASGI: verify the agent token before the MCP app sees the request."""

    def __init__(self, app: ASGIApp, eng: Engine, gateway: Gateway) -> None:
        self.app = app
        self.eng = eng
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = headers.get("x-execution-token", "")
        bearer = headers.get("authorization", "")
        if not token and bearer.lower().startswith("bearer "):
            token = bearer[7:].strip()
        try:
            if not token:
                raise CredentialError("an agent token is required (Authorization: Bearer ...)")
            credential = await self.eng.credentials.verify(token)
        except CredentialError as err:
            await _reject(send, 401, err.message)
            return
        state = scope.setdefault("state", {})
        state[STATE_KEY] = credential.name
        state[GONE_KEY] = gone = anyio.Event()

        async def watched() -> Message:
            """The SSE response listens for `http.disconnect` (the client's TCP connection
            closed): seeing it here tells a waiting call its answer has nowhere to go."""
            message = await receive()
            if message["type"] == "http.disconnect":
                gone.set()
            return message

        await self.app(scope, watched, send)


async def _reject(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HttpGateway(Gateway):
    def agent_for(self, ctx: Any) -> str | None:
        request = getattr(ctx, "request", None)
        state = getattr(request, "state", None)
        name = getattr(state, STATE_KEY, None)
        if not isinstance(name, str):
            raise PolicyError("auth: no agent token on this request")
        return name

    def connection_gone(self, ctx: Any) -> Callable[[], bool]:
        state = getattr(getattr(ctx, "request", None), "state", None)
        gone = getattr(state, GONE_KEY, None)
        if not isinstance(gone, anyio.Event):
            return lambda: False
        return gone.is_set


def http_app(
    eng: Engine, *, host: str = "127.0.0.1", progress_every: float = 1.0
) -> AgentTokenAuth:
    gateway = HttpGateway(eng, transport="http", progress_every=progress_every)
    server = gateway.build()
    app = server.streamable_http_app(host=host)
    return AgentTokenAuth(app, eng, gateway)


async def serve_http(eng: Engine, *, host: str, port: int) -> None:
    import uvicorn

    app = http_app(eng, host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(app.gateway.keep_alive)
            await uvicorn.Server(config).serve()
            tasks.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await app.gateway.close()  # sessions still open end; their waits are orphaned
