"""The node's FastAPI app (docs/windows_node.md), built by `create_app(settings)` for the CLI and
for tests.

Requests pass the guard (`daena_http.guard`, shared with the HTTP API) before any
route sees them: the Host header must name this node (DNS
rebinding), browser requests (an `Origin` header) are refused since there is deliberately no
CORS, the token header is compared in constant time, and the body is limited both by its
`Content-Length` and by counting the bytes actually received. Every answer that is not a
tool result is an `ErrorBody` with the right status; nothing expected ever becomes a 500.
"""

from __future__ import annotations

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

from daena_http.guard import GuardRules, HttpGuard, http_error_detail, top_field
from daena_http.guard import describe_validation as describe_problems
from engine.errors import (
    CommandFailed,
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
from engine.safety.hosts import allowed_host_names
from engine.safety.protected import protected_for_settings
from node_server import __version__
from node_server.settings import NodeSettings
from node_server.tools import TOOLS, ToolEnv


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


def describe_validation(err: ValidationError | RequestValidationError) -> str:
    """`field: rule` for the first few problems, e.g. `timeout_sec: Input should be > 0`."""
    return describe_problems(err.errors(), field_of=top_field)


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
        detail = http_error_detail(request, exc, no_route="no such route on the node")
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


def create_app(settings: NodeSettings) -> FastAPI:
    """Build the node app for `settings`. No CORS middleware, by design."""
    env = ToolEnv(
        workspace=settings.workspace_root,
        shell_allowlist=tuple(settings.shell_allowlist),
        output_cap=settings.output_cap,
        protected=protected_for_settings(settings, workspace=settings.workspace_root),
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
    rules = GuardRules(
        allowed_hosts=allowed_host_names(settings.host, settings.allowed_hosts),
        token_header=TOKEN_HEADER,
        token=token,
        no_token_refusal=None,  # a node without a token is loopback-only (see __main__)
        max_body_bytes=settings.max_body_bytes,
        respond=error_response,
        host_refusal="Host: {host} is not a name of this node; add it to NODE_ALLOWED_HOSTS "
        "if it is (requests for other names are refused against DNS rebinding)",
        origin_refusal="Origin: browser requests are not accepted by the node (no CORS)",
        own_origin_allowed=False,
        limit_hint=" (NODE_MAX_BODY_BYTES)",
    )
    app.add_middleware(HttpGuard, rules=rules)

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
