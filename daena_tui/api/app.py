"""The HTTP API (SPEC §11): `/api/v1/execution/*`, compatible with the original routes.

    app = create_api(settings)            # the lifespan opens (and closes) the engine
    app = create_api(eng)                 # an engine the caller opened (tests, `daena serve`)

It is a front end like the console: the same engine and database, so the console and the
CLI see what the API does (and the other way round) through the events table. Every route
needs `X-Execution-Token` (see `auth.py`); there is no CORS and no docs page, only the
OpenAPI document at `/api/v1/execution/openapi.json` (token required too).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from daena_tui import __version__
from daena_tui.api import routes_approvals, routes_nodes, routes_tasks, routes_tools
from daena_tui.api.auth import DEFAULT_MAX_BODY_BYTES, TOKEN_HEADER, guard_rules
from daena_tui.api.errors import install_error_handlers
from daena_tui.api.state import ApiState, no_unknown_query
from engine import ConfigError, Engine, Settings
from engine.safety.hosts import allowed_host_names, is_loopback
from engine.safety.http_guard import HttpGuard

API_PREFIX = "/api/v1/execution"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"


class ErrorBody(BaseModel):
    detail: str
    error: str


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong X-Execution-Token"},
    403: {"description": "refused by policy, needs approval, or outside the workspace"},
    404: {"model": ErrorBody, "description": "unknown tool, request, task or node"},
    409: {"model": ErrorBody, "description": "already decided, expired, or task finished"},
    422: {"model": ErrorBody, "description": "invalid input: `<field>: <rule>`"},
    423: {"model": ErrorBody, "description": "lockdown is on"},
}


def create_api(
    engine_or_settings: Engine | Settings,
    *,
    insecure_local: bool = False,
    bind_host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """Build the API app.

    Given an `Engine`, the app uses it and never closes it; given `Settings`, the app's
    lifespan opens the engine at start-up and closes it at shutdown. `insecure_local`
    (no token needed while `EXECUTION_TOKEN` is unset) is refused unless `bind_host` is a
    loopback address. `allowed_hosts` are extra names the Host header may carry.
    """
    if isinstance(engine_or_settings, Engine):
        given: Engine | None = engine_or_settings
        settings = engine_or_settings.settings
    else:
        given, settings = None, engine_or_settings
    if insecure_local and not is_loopback(bind_host):
        raise ConfigError(
            f"--insecure-local: only allowed on a loopback address (127.0.0.1, ::1, "
            f"localhost), not {bind_host!r}; set EXECUTION_TOKEN instead"
        )
    state = ApiState(given)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            if given is not None:
                yield
            else:
                async with Engine.open(settings, index_audit=True) as eng:
                    state.engine = eng
                    yield
        finally:
            await state.aclose()
            if given is None:
                state.engine = None

    app = FastAPI(
        title="Daena execution API",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_PATH,
        lifespan=lifespan,
    )
    app.state.api = state
    install_error_handlers(app)
    for module in (routes_tools, routes_approvals, routes_nodes, routes_tasks):
        app.include_router(
            module.router,
            prefix=API_PREFIX,
            responses=COMMON_RESPONSES,
            dependencies=[Depends(no_unknown_query)],
        )
    secret = settings.execution_token.get_secret_value() if settings.execution_token else ""
    rules = guard_rules(
        allowed_hosts=allowed_host_names(bind_host, allowed_hosts),
        token=secret.encode("utf-8") if secret else None,
        insecure_local=insecure_local,
        max_body_bytes=max_body_bytes,
    )
    app.add_middleware(HttpGuard, rules=rules)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description="Every route needs the X-Execution-Token header.",
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "ExecutionToken": {"type": "apiKey", "in": "header", "name": TOKEN_HEADER}
            }
            schema["security"] = [{"ExecutionToken": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
