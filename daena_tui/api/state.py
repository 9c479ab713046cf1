"""What every route reaches through `request.app.state.api`: the engine, the caller's
operator name, and the background task runs the app owns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from daena_tui.api.auth import OPERATOR_HEADER, sanitise_operator
from daena_tui.api.errors import ApiError
from engine import Engine


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


def no_unknown_query(request: Request) -> None:
    """A query parameter the route does not take is an error, not silently ignored
    (`?limt=5` must not quietly mean the default)."""
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


def operator_dep(request: Request) -> str:
    """`api:<X-Operator>` (sanitised) or `api:<DAENA_OPERATOR>`: who decides via the API."""
    eng = engine_dep(request)
    return sanitise_operator(request.headers.get(OPERATOR_HEADER), eng.operator)


EngineDep = Annotated[Engine, Depends(engine_dep)]
OperatorDep = Annotated[str, Depends(operator_dep)]
StateDep = Annotated[ApiState, Depends(api_state)]
