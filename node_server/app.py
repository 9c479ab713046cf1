"""The node's FastAPI app (SPEC §8), built by `create_app(settings)` for the CLI and for tests.

Requests pass a guard before any route sees them: the Host header must name this node (DNS
rebinding), browser requests (an `Origin` header) are refused since there is deliberately no
CORS, the token header is compared in constant time, and the body is limited both by its
`Content-Length` and by counting the bytes actually received. Every answer that is not a
tool result is an `ErrorBody` with the right status; nothing expected ever becomes a 500.
"""

from __future__ import annotations

import hmac
import json
import platform
import socket
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.errors import (
    ConfinementError,
    EngineError,
    InputError,
    NotFoundError,
    PolicyError,
    ToolFailure,
)
from engine.protocol import (
    HEALTH_PATH,
    NODE_TOOLS,
    RUN_TOOL_PATH,
    TOKEN_HEADER,
    ErrorBody,
    ErrorCode,
    NodeHealth,
    RunToolRequest,
)
from engine.safety.commands import CommandFailed
from node_server import __version__
from node_server.settings import NodeSettings, normalise_host
from node_server.tools import TOOLS, ToolEnv

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


def error_response(
    status: int,
    error: str,
    detail: str,
    *,
    result: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=error, detail=detail, status=status, result=result)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def engine_error_response(err: EngineError) -> JSONResponse:
    """Map the engine's exception tree onto HTTP statuses (order matters: subclasses first)."""
    if isinstance(err, CommandFailed) and err.timed_out:
        return error_response(504, ErrorCode.TIMEOUT, err.message, result=err.result)
    if isinstance(err, ConfinementError):
        return error_response(403, ErrorCode.OUTSIDE_WORKSPACE, err.message)
    if isinstance(err, PolicyError):
        return error_response(403, ErrorCode.REFUSED, err.message)
    if isinstance(err, NotFoundError):
        return error_response(404, ErrorCode.NOT_FOUND, err.message)
    if isinstance(err, InputError):
        return error_response(422, ErrorCode.INVALID_ARGS, err.message)
    if isinstance(err, ToolFailure):
        result = err.result if isinstance(err, CommandFailed) else None
        return error_response(409, ErrorCode.TOOL_FAILED, err.message, result=result)
    return error_response(400, ErrorCode.BAD_REQUEST, err.message)


def describe_validation(err: ValidationError | RequestValidationError, *, limit: int = 3) -> str:
    """`field: rule` for the first few problems, e.g. `timeout_sec: Input should be > 0`."""
    parts: list[str] = []
    seen: set[str] = set()
    for problem in err.errors():
        loc = [str(p) for p in problem.get("loc", ()) if p not in ("body",)]
        field = loc[0] if loc else "body"
        if field in seen:
            continue  # a union reports once per member; the first message is enough
        seen.add(field)
        parts.append(f"{field}: {problem.get('msg', 'is invalid')}")
        if len(parts) >= limit:
            break
    return "; ".join(parts) or "body: is invalid"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class GuardMiddleware:
    """Host, Origin, token and body-size checks, before routing (pure ASGI, no buffering)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: frozenset[str],
        token: bytes | None,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.token = token
        self.max_body_bytes = max_body_bytes
        self._token_header = TOKEN_HEADER.lower().encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1008})
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        raw_host = _header(scope, b"host")
        host = normalise_host(raw_host.decode("latin-1")) if raw_host else ""
        if host not in self.allowed_hosts:
            shown = raw_host.decode("latin-1")[:100] if raw_host else "(none)"
            return error_response(
                403,
                ErrorCode.FORBIDDEN_HOST,
                f"Host: {shown!r} is not a name of this node; add it to NODE_ALLOWED_HOSTS "
                "if it is (requests for other names are refused against DNS rebinding)",
            )
        if _header(scope, b"origin") is not None:
            return error_response(
                403,
                ErrorCode.FORBIDDEN_ORIGIN,
                "Origin: browser requests are not accepted by the node (no CORS)",
            )
        if self.token is not None:
            given = _header(scope, self._token_header)
            if given is None:
                return error_response(
                    401, ErrorCode.UNAUTHORIZED, f"{TOKEN_HEADER}: header is missing"
                )
            if not hmac.compare_digest(given, self.token):
                return error_response(
                    401, ErrorCode.UNAUTHORIZED, f"{TOKEN_HEADER}: token is not valid"
                )
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return error_response(
                    400, ErrorCode.BAD_REQUEST, "Content-Length: must be a whole number"
                )
            if declared > self.max_body_bytes:
                return self._too_large(f"Content-Length {declared}")
        return None

    def _too_large(self, what: str) -> JSONResponse:
        return error_response(
            413,
            ErrorCode.TOO_LARGE,
            f"body: {what} is over the {self.max_body_bytes}-byte limit (NODE_MAX_BODY_BYTES)",
        )

    def _limited(self, receive: Receive) -> Receive:
        """Count streamed bytes too: a chunked body has no Content-Length to check."""
        received = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read; the HTTPException handler answers.
                    raise HTTPException(
                        413,
                        detail=f"body: more than {limit} bytes received, over the limit "
                        "(NODE_MAX_BODY_BYTES)",
                    )
            return message

        return limited_receive


_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    404: ErrorCode.UNKNOWN_ROUTE,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.INVALID_ARGS,
}


def _install_error_handlers(app: FastAPI) -> None:
    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404:
            detail = f"{request.method} {request.url.path}: no such route on the node"
        elif exc.status_code == 405:
            detail = f"{request.method} {request.url.path}: method not allowed"
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.BAD_REQUEST)
        return error_response(exc.status_code, code, detail, headers=exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, ErrorCode.INVALID_ARGS, describe_validation(exc))

    async def on_engine_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EngineError)
        return engine_error_response(exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # A bug, not an operator mistake: say so without leaking internals. Starlette
        # re-raises after this handler, so the node's log keeps the traceback.
        return error_response(
            500, ErrorCode.INTERNAL, "internal error in the node server; see the node's log"
        )

    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(EngineError, on_engine_error)
    app.add_exception_handler(Exception, on_unexpected)


def allowed_host_names(settings: NodeSettings) -> frozenset[str]:
    """The Host values this node answers to (port ignored)."""
    names = set(LOOPBACK_NAMES) | set(settings.allowed_hosts)
    names.add(normalise_host(settings.host))
    names.add(normalise_host(socket.gethostname()))
    return frozenset(names)


def create_app(settings: NodeSettings) -> FastAPI:
    """Build the node app for `settings`. No CORS middleware, by design."""
    env = ToolEnv(
        workspace=settings.workspace_root,
        shell_allowlist=tuple(settings.shell_allowlist),
        output_cap=settings.output_cap,
    )
    health = NodeHealth(
        version=__version__,
        platform=platform.platform(),
        hostname=socket.gethostname(),
        workspace_root=str(settings.workspace_root),
        tools=list(NODE_TOOLS),
    )
    app = FastAPI(
        title="Daena node",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    _install_error_handlers(app)
    token = settings.token.get_secret_value().encode("ascii") if settings.token else None
    app.add_middleware(
        GuardMiddleware,
        allowed_hosts=allowed_host_names(settings),
        token=token,
        max_body_bytes=settings.max_body_bytes,
    )

    @app.get(HEALTH_PATH)
    async def node_health() -> dict[str, Any]:
        return health.model_dump()

    @app.post(RUN_TOOL_PATH)
    async def run_tool(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            return error_response(
                415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Content-Type: must be application/json"
            )
        body = await request.body()
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as err:
            return error_response(
                422, ErrorCode.INVALID_ARGS, f"body: is not valid JSON ({_short(err)})"
            )
        try:
            req = RunToolRequest.model_validate(data)
        except ValidationError as err:
            return error_response(422, ErrorCode.INVALID_ARGS, describe_validation(err))
        entry = TOOLS.get(req.tool_name)
        if entry is None:
            return error_response(
                400,
                ErrorCode.UNKNOWN_TOOL,
                f"tool_name: unknown tool {req.tool_name[:100]!r}; "
                f"this node offers {', '.join(NODE_TOOLS)}",
            )
        model, run = entry
        try:
            args = model.model_validate(req.args)
        except ValidationError as err:
            return error_response(422, ErrorCode.INVALID_ARGS, describe_validation(err))
        try:
            result = await run(env, args)
        except EngineError as err:
            return engine_error_response(err)
        return JSONResponse(result)

    return app


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= 120 else text[:117] + "..."
