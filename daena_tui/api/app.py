"""The HTTP API (README, "HTTP API"): `/api/v1/execution/*` answers as the original system did
(compat/original_api.md, `v1_routes.py`, `v1_more.py`); `/api/v2/*` is this project's
typed API (typed results, risk, schema, scoped grants, decisions with reasons).

    app = create_api(settings)            # the lifespan opens (and closes) the engine
    app = create_api(eng)                 # an engine the caller opened (tests, `daena serve`)

It is a front end like the console: the same engine and database, so the console and the
CLI see what the API does (and the other way round) through the events table. Every route
needs `X-Execution-Token` (see `auth.py`): the operator token may use every route, an agent
token only the agent routes (`roles.py`, default deny). There is no CORS and no docs page,
only the OpenAPI document (both prefixes in one) at `/api/v2/openapi.json` and
`/api/v1/execution/openapi.json` (a token required too), where each route's `x-daena-role`
says who may use it. Open without a credential, as in the original: `/health`,
`/api/v1/execution/token-cookie` and `/auth-status` (role `public`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from daena_http.guard import HttpGuard
from daena_tui import __version__
from daena_tui.api import (
    routes_approvals,
    routes_nodes,
    routes_tasks,
    routes_tools,
    v1_more,
    v1_routes,
)
from daena_tui.api.auth import DEFAULT_MAX_BODY_BYTES, TOKEN_HEADER, CallerAuth, guard_rules
from daena_tui.api.errors import install_error_handlers
from daena_tui.api.fast_run import RUN_PATHS, FastRunRoute
from daena_tui.api.paths import HEALTH_PATH, V1_PREFIX, V2_PREFIX
from daena_tui.api.roles import AGENT, PUBLIC, app_routes, authorize, role, route_role
from daena_tui.api.state import ApiState, no_unknown_query
from engine import ConfigError, Engine, Settings
from engine.safety.hosts import allowed_host_names, is_loopback
from engine.tools.registry import ToolRegistry

API_PREFIX = V1_PREFIX
OPENAPI_PATH = f"{V2_PREFIX}/openapi.json"
V1_OPENAPI_PATH = f"{V1_PREFIX}/openapi.json"
API_DESCRIPTION = (
    "Every route needs the X-Execution-Token header. The operator token (EXECUTION_TOKEN) "
    "may use every route and is recorded as api:<DAENA_OPERATOR>; an agent token "
    "(`daena agents token create NAME`) is recorded as agent:<NAME> and may use only the "
    "routes whose x-daena-role is `agent` (list tools, run, ask for approval, read its own "
    "requests and audit records); any other route answers it 403 operator_only. The name "
    "on a decision comes from the credential; an X-Operator header is ignored."
)


class ErrorBody(BaseModel):
    detail: str
    error: str


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing, wrong, revoked or expired token"},
    403: {
        "description": "refused by policy, needs approval, outside the workspace, or "
        "`operator_only`: an agent token on an operator route"
    },
    404: {"model": ErrorBody, "description": "unknown tool, request, task or node"},
    409: {"model": ErrorBody, "description": "already decided, expired, or task finished"},
    422: {"model": ErrorBody, "description": "invalid input: `<field>: <rule>`"},
    423: {"model": ErrorBody, "description": "lockdown is on"},
}


V1_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "`{detail}`: unknown tool on /request, or a bad artifact name"},
    401: {"description": "`{detail}`: missing or invalid X-Execution-Token / cookie"},
    403: {"description": "`{detail}` (and the envelope on /run): refused, or operator only"},
    404: {"description": "`{detail}`: unknown tool, task, request or artifact"},
    409: {"description": "`{detail}`: already decided, or the task is running"},
    422: {"description": "`{detail: [...]}` FastAPI's list, or `{detail}`"},
    423: {"description": "`{detail}`: lockdown is on"},
}


TOOL_BODIES = {
    (f"{V2_PREFIX}/run", "post"),
    (f"{V2_PREFIX}/request", "post"),
    (f"{V1_PREFIX}/request", "post"),
}
"""Bodies whose `args` are validated against the named tool's arguments at once (422)."""


def state_tool_variants(schema: dict[str, Any], registry: ToolRegistry) -> None:
    """Say in the schema what the server checks: `args` must fit `tool_name`'s arguments.

    Each body above becomes one variant per tool (`tool_name` const, `args` that tool's
    schema); the tools' own `$defs` move into the components."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    tools: list[tuple[str, dict[str, Any]]] = []
    for spec in registry.all():
        args = spec.json_schema()
        text = json.dumps({k: v for k, v in args.items() if k != "$defs"})
        for name, definition in args.get("$defs", {}).items():
            hoisted = f"ToolArgs_{spec.name}_{name}"
            text = text.replace(f'"#/$defs/{name}"', f'"#/components/schemas/{hoisted}"')
            components[hoisted] = json.loads(
                json.dumps(definition).replace(
                    "#/$defs/", f"#/components/schemas/ToolArgs_{spec.name}_"
                )
            )
        tools.append((spec.name, json.loads(text)))
    names = [name for name, _ in tools]
    for variant in (
        components.get("ConfigPatch", {})
        .get("properties", {})
        .get("tool_enabled", {})
        .get("anyOf", [])
    ):
        if variant.get("type") == "object":  # the switches of tools that exist
            variant["propertyNames"] = {"enum": names}
    for path, method in TOOL_BODIES:
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        content = operation["requestBody"]["content"]["application/json"]
        ref = content["schema"].get("$ref", "")
        base = components.get(ref.rsplit("/", 1)[-1], {})
        variants = []
        for name, args in tools:
            properties = dict(base.get("properties", {}))
            properties["tool_name"] = {"const": name}
            properties["args"] = args
            variant = {**base, "properties": properties}
            needs_args = bool(args.get("required"))  # an omitted `args` is `{}`
            required = {*base.get("required", []), "tool_name", *(["args"] if needs_args else [])}
            variant["required"] = sorted(required)
            variants.append(variant)
        content["schema"] = {"oneOf": variants}


def public_paths(app: FastAPI) -> frozenset[str]:
    """The paths of the routes that state role PUBLIC: `CallerAuth` lets only these through
    without a credential (and `roles.authorize` admits none elsewhere)."""
    found = frozenset(
        path
        for path, route in app_routes(app.routes)
        if isinstance(route, APIRoute) and route_role(route) == PUBLIC
    )
    expected = {HEALTH_PATH, f"{V1_PREFIX}/token-cookie", f"{V1_PREFIX}/auth-status"}
    if found != expected:  # a new open route is a decision, not an accident
        raise RuntimeError(f"public routes changed: {sorted(found)} (expected {sorted(expected)})")
    return found


def create_api(
    engine_or_settings: Engine | Settings,
    *,
    insecure_local: bool = False,
    bind_host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    fast_run: bool = True,
) -> FastAPI:
    """Build the API app.

    Given an `Engine`, the app uses it and never closes it; given `Settings`, the app's
    lifespan opens the engine at start-up and closes it at shutdown. `insecure_local`
    (no token needed while `EXECUTION_TOKEN` is unset) is refused unless `bind_host` is a
    loopback address. `allowed_hosts` are extra names the Host header may carry.
    `fast_run=False` leaves `POST /run` to FastAPI alone (the reference its fast path is
    tested against, `fast_run.py`).
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
        openapi_url=None,  # served below, as a route with a role like every other
        lifespan=lifespan,
        dependencies=[Depends(authorize)],  # every route, default deny for agents
    )
    app.state.api = state
    install_error_handlers(app)
    # Routes are matched in order, one by one: the original's routes (what most clients
    # call, `POST /run` second) come first. The prefixes do not overlap, so the order
    # changes no answer.
    for v1 in (v1_routes.router, v1_more.router):
        app.include_router(
            v1, prefix=V1_PREFIX, responses=V1_RESPONSES, dependencies=[Depends(no_unknown_query)]
        )
    for module in (routes_tools, routes_approvals, routes_nodes, routes_tasks):
        app.include_router(
            module.router,
            prefix=V2_PREFIX,
            responses=COMMON_RESPONSES,
            dependencies=[Depends(no_unknown_query)],
        )
    app.include_router(v1_more.root_router, dependencies=[Depends(no_unknown_query)])
    if fast_run:  # first: the plain `POST /run` without FastAPI's per-request work
        app.router.routes[:0] = [FastRunRoute(app, path) for path in RUN_PATHS]
    secret = settings.execution_token.get_secret_value() if settings.execution_token else ""
    operator_token = secret.encode("utf-8") if secret else None
    app.state.v1_auth = v1_more.AuthInfo(operator_token, insecure_local)
    app.add_middleware(
        CallerAuth,
        engine=lambda: state.engine,
        operator=settings.daena_operator,
        operator_token=operator_token,
        insecure_local=insecure_local,
        open_paths=public_paths(app),
        cookie_prefix=V1_PREFIX + "/",
    )
    rules = guard_rules(
        allowed_hosts=allowed_host_names(bind_host, allowed_hosts),
        max_body_bytes=max_body_bytes,
    )
    app.add_middleware(HttpGuard, rules=rules)  # outermost: Host, Origin, size first

    def registry_of() -> ToolRegistry:
        return state.engine.registry if state.engine is not None else ToolRegistry.default()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=API_DESCRIPTION,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "ExecutionToken": {"type": "apiKey", "in": "header", "name": TOKEN_HEADER}
            }
            schema["security"] = [{"ExecutionToken": []}]
            state_tool_variants(schema, registry_of())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get(OPENAPI_PATH, include_in_schema=False, openapi_extra=role(AGENT))
    async def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(V1_OPENAPI_PATH, include_in_schema=False, openapi_extra=role(AGENT))
    async def openapi_document_v1() -> JSONResponse:
        return JSONResponse(app.openapi())

    return app
