"""Which credential may use which route (security promise 5), default deny.

Every route states its role in its decorator, `openapi_extra=role(AGENT)` or
`openapi_extra=role(OPERATOR)`, and the OpenAPI document shows it as `x-daena-role`.
`authorize` runs before every route of the app (an app-wide dependency): a route that
states no role is operator-only, so a route added later without thinking stays out of an
agent's reach. An agent credential refused here gets 403 `operator_only` naming the rule,
and the attempt is audited (`api_call`, refused, actor `agent:<name>`).

What an agent may do (the agent routes): list the tools, run a tool (`POST /run`) and ask
for one (`POST /request`) as itself, and read its own approval requests (`GET /approvals`,
`/requests`, `/approvals/{id}`) and its own audit records (`GET /logs`), plus the OpenAPI
document. Everything else — deciding approvals, minting grants, the config and lockdown,
tool toggles, nodes, tasks — is the operator's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from daena_tui.api.auth import Role
from daena_tui.api.errors import ApiError
from daena_tui.api.state import caller_dep, engine_dep
from engine import AuditEntry

OPERATOR: Role = "operator"
AGENT: Role = "agent"
PUBLIC: Role = "public"
"""No credential: only `/health`, `/api/v1/execution/token-cookie` and `/auth-status`
(the original's open routes). `CallerAuth` lets exactly the app's open paths through
without a credential, and `authorize` admits a request without one only on a route that
states PUBLIC: both must agree, or the request is 401."""
ROLE_KEY = "x-daena-role"
AGENT_RULE = (
    "an agent credential may list tools, run tools and ask for approvals as itself, and "
    "read its own requests and results; deciding approvals, minting grants, the config, "
    "lockdown, tool switches, nodes and tasks are the operator's"
)


def role(name: Role) -> dict[str, Any]:
    """The `openapi_extra` of a route that `name` may use (operator routes say OPERATOR);
    a public route also says, in OpenAPI terms, that it needs no credential."""
    return {ROLE_KEY: name, "security": []} if name == PUBLIC else {ROLE_KEY: name}


def app_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """Every route with its full path, included routers opened (FastAPI keeps them nested,
    each with its own prefix). A route that only serves another's plain case faster
    (`fast_run.FastRunRoute`, marked `shadow_of`) is left out: it is that route."""
    for route in routes:
        if getattr(route, "shadow_of", None) is not None:
            continue
        inner = getattr(route, "original_router", None)
        if inner is None:
            yield prefix + str(getattr(route, "path", "")), route
            continue
        context = getattr(route, "include_context", None)
        yield from app_routes(inner.routes, prefix + str(getattr(context, "prefix", "")))


def route_role(route: Any) -> Role:
    """The role a route states; none stated (or not an API route) means operator-only."""
    extra = route.openapi_extra if isinstance(route, APIRoute) else None
    stated = (extra or {}).get(ROLE_KEY)
    if stated == AGENT:
        return AGENT
    return PUBLIC if stated == PUBLIC else OPERATOR


async def refuse(request: Request, identity: str, detail: str, **what: Any) -> None:
    """Audit an agent's refused call (`api_call`, refused) and answer 403 `operator_only`."""
    await engine_dep(request).record(
        AuditEntry(
            actor=identity,
            action="api_call",
            status="refused",
            args={"method": request.method, "path": request.url.path, **what},
            error=detail,
        )
    )
    raise ApiError(403, "operator_only", detail)


async def authorize(request: Request) -> None:
    """Refuse an agent credential on a route that is not an agent route (audited)."""
    if route_role(request.scope.get("route")) == PUBLIC:
        return
    caller = caller_dep(request)  # 401 if the middleware did not identify anyone
    if caller.role == OPERATOR or route_role(request.scope.get("route")) == AGENT:
        return
    where = f"{request.method} {request.url.path}"
    await refuse(
        request,
        caller.identity,
        f"{where}: operator only; {AGENT_RULE} (this is {caller.identity})",
    )


async def as_itself(request: Request, field: str, given: str | None, identity: str) -> None:
    """An agent acts as itself: a name field (`requester`, `actor`) naming anyone else is
    refused (403, audited) rather than quietly replaced."""
    if given is not None and given != identity:
        detail = (
            f"{field}: an agent credential acts as {identity}; leave {field} out "
            f"(got {given[:64]!r})"
        )
        await refuse(request, identity, detail, **{field: given[:64]})
