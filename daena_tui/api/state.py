"""What every route reaches: the engine (`request.app.state.api`), the caller (from its
credential, see `auth.CallerAuth`), and the background task runs the app owns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from daena_tui.api.auth import Caller
from daena_tui.api.errors import ApiError
from engine import AgentSession, Engine


class ApiState:
    """Per-app state. The engine is set by the lifespan (or given to `create_api`)."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._background: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run `coro` in the background; kept referenced until it ends, cancelled at close."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_background(self) -> None:
        """Wait for every background run to end (tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._background.clear()


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


def engine_dep(request: Request) -> Engine:
    eng = api_state(request).engine
    if eng is None:
        raise ApiError(503, "not_ready", "the engine is not open (the app is starting or stopping)")
    return eng


async def no_unknown_query(request: Request) -> None:
    """A query parameter the route does not take is an error, not silently ignored
    (`?limt=5` must not quietly mean the default)."""
    if not request.scope.get("query_string"):
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        known.update(param.alias for param in sub.query_params)
    for name in request.query_params:
        if name not in known:
            takes = ", ".join(sorted(known)) or "none"
            raise ApiError(
                422,
                "invalid_input",
                f"{name[:50]}: unknown query parameter (this route takes: {takes})",
            )


def caller_dep(request: Request) -> Caller:
    """Who calls, as `auth.CallerAuth` found it from the token (never from a header the
    caller picks)."""
    caller = getattr(request.state, "caller", None)
    if not isinstance(caller, Caller):  # CallerAuth did not run: refuse rather than guess
        raise ApiError(401, "unauthorized", "X-Execution-Token: the caller is not identified")
    return caller


def operator_dep(request: Request) -> str:
    """`api:<DAENA_OPERATOR>`: the name the operator's credential records (decisions,
    grants, config). An agent credential never gets here (`roles.authorize`); if a route
    were mis-declared, it is refused here too."""
    caller = caller_dep(request)
    if caller.role != "operator":
        raise ApiError(
            403, "operator_only", f"{caller.identity}: an agent credential cannot act as operator"
        )
    return caller.identity


def agent_dep(request: Request) -> AgentSession | None:
    """The engine as the calling agent sees it (`Engine.as_agent`), or None for the
    operator."""
    caller = caller_dep(request)
    if caller.agent is None:
        return None
    return engine_dep(request).as_agent(caller.agent)


# The dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its
# thread pool, one thread hand-off per dependency per request (four on `POST /run`, most of
# the API's own CPU per dry run). The plain functions above stay callable directly.


async def _engine(request: Request) -> Engine:
    return engine_dep(request)


async def _caller(request: Request) -> Caller:
    return caller_dep(request)


async def _operator(request: Request) -> str:
    return operator_dep(request)


async def _agent(request: Request) -> AgentSession | None:
    return agent_dep(request)


async def _state(request: Request) -> ApiState:
    return api_state(request)


EngineDep = Annotated[Engine, Depends(_engine)]
CallerDep = Annotated[Caller, Depends(_caller)]
OperatorDep = Annotated[str, Depends(_operator)]
AgentDep = Annotated[AgentSession | None, Depends(_agent)]
StateDep = Annotated[ApiState, Depends(_state)]
