"""How the API answers errors: one JSON shape, `{detail, error}`, and the right status.

401 token · 403 refused by policy / needs approval / outside the workspace ·
404 unknown tool, request, task or node · 409 already decided or expired ·
413 body too large · 422 invalid input (`detail` is `<field>: <rule>`) · 423 lockdown ·
500 only for a genuine bug (the catch-all; the traceback stays in the server's log).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from daena_http.guard import describe_validation, http_error_detail
from daena_tui.api.auth import error_json
from daena_tui.api.paths import V1_PREFIX
from engine import (
    ApprovalError,
    ConfigError,
    ConfinementError,
    EngineError,
    InputError,
    LockdownError,
    NodeError,
    NotFoundError,
    PolicyError,
    SelfDecisionError,
    StorageError,
)


class ApiError(Exception):
    """An answer decided by a route: status, stable code, sentence."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


def status_for(err: EngineError) -> tuple[int, str]:
    """The HTTP status and code for an engine error (subclasses first)."""
    if isinstance(err, LockdownError):
        return 423, "lockdown"
    if isinstance(err, ConfinementError):
        return 403, "outside_workspace"
    if isinstance(err, PolicyError):
        return 403, "refused"
    if isinstance(err, NotFoundError):
        return 404, "not_found"
    if isinstance(err, InputError | ConfigError):
        return 422, "invalid_input"
    if isinstance(err, SelfDecisionError):
        return 403, "own_request"  # the requester cannot decide its own request
    if isinstance(err, ApprovalError):
        return 409, "conflict"
    if isinstance(err, NodeError):
        return 502, "node_error"
    if isinstance(err, StorageError):
        return 503, "storage_error"
    return 400, "bad_request"


def engine_error_response(err: EngineError) -> JSONResponse:
    status, code = status_for(err)
    return error_json(status, code, err.message)


FASTAPI_BODY_ERROR = "There was an error parsing the body"
_HTTP_CODES = {
    400: "bad_request",
    404: "unknown_route",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app takes at this request's path (for `Allow`)."""
    from daena_tui.api.roles import app_routes  # roles imports this module

    path = request.url.path
    methods: set[str] = set()
    for full, route in app_routes(request.app.routes):
        regex, _, _ = compile_path(full)
        if regex.match(path):
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = http_error_detail(request, exc, no_route="no such route")
        status, code = exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error")
        if status == 400 and detail == FASTAPI_BODY_ERROR:  # undecodable or too deeply nested
            status, code = 422, "invalid_input"
            detail = "body: cannot be read as JSON (wrong encoding, or nested too deeply)"
        response = error_json(status, code, detail)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        if status == 405:  # every method of the path, not just the first route's
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError | ValidationError)
        if request.url.path.startswith(V1_PREFIX + "/"):  # the original's (FastAPI's) list
            listed = [
                {key: error.get(key) for key in ("type", "loc", "msg")} for error in exc.errors()
            ]
            body = {"detail": jsonable_encoder(listed), "error": "invalid_input"}
            return JSONResponse(body, status_code=422)
        return error_json(422, "invalid_input", describe_validation(exc.errors()))

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_json(exc.status, exc.error, exc.detail)

    async def on_engine_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EngineError)
        return engine_error_response(exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # A bug, not an operator mistake: say so without leaking internals. Starlette
        # re-raises after this handler, so the server's log keeps the traceback.
        return error_json(500, "internal_error", "internal error in the API; see the server's log")

    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(ValidationError, on_validation_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(EngineError, on_engine_error)
    app.add_exception_handler(Exception, on_unexpected)
