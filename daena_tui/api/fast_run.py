"""`POST /run` (both prefixes) without FastAPI's per-request machinery, same answers.

The run routes are what agents call most, and a dry run's own work is small: FastAPI's
request handling around it (dependency solving, telemetry, the route's context lookup)
cost about as much server CPU as the audited run itself (BENCHMARKS.md §10). A route per
prefix sits first in the app's routes and serves the plain case directly:

    POST, no query string, `Content-Type: application/json`, a body that is a JSON object
    and a valid `V1RunBody` / `RunBody`

with the same checks in the same order (the guard and `CallerAuth` have run already, as
middleware; then `roles.authorize`, the body, `v1_routes.run_v1` / `routes_tools.run_v2`,
what the FastAPI routes call too). Anything else (a query
string, another content type, an empty or malformed body, a body the model refuses, any
other method) is handed to the FastAPI route with the body replayed, so every error is
the one FastAPI gives and the OpenAPI document, built from the FastAPI route, stays the
description of what the server does. `tests/api/test_fast_run.py` holds the two to the
same answers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send

from daena_tui.api.models import RunBody
from daena_tui.api.paths import V1_PREFIX, V2_PREFIX
from daena_tui.api.roles import app_routes, authorize
from daena_tui.api.routes_tools import run_v2
from daena_tui.api.v1_models import V1RunBody
from daena_tui.api.v1_routes import run_v1

Handler = Callable[[Request, Any], Awaitable[Response]]
RUN_PATHS: dict[str, tuple[type[BaseModel], Handler]] = {
    f"{V1_PREFIX}/run": (V1RunBody, run_v1),
    f"{V2_PREFIX}/run": (RunBody, run_v2),
}
"""Each fast-served path: the body's model and what the FastAPI route calls once it is valid."""
SLOW_KEY = "daena.run_slow_path"
"""Set in the scope when a request goes on to the FastAPI route, so this route steps aside."""
JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8"})


class FastRunRoute(BaseRoute):
    """Serves the plain `POST` of `path`; hands every other request to the FastAPI route."""

    def __init__(self, app: FastAPI, path: str) -> None:
        self._app = app
        self._path = path
        self._model, self._handler = RUN_PATHS[path]
        found = [
            route
            for full, route in app_routes(app.routes)
            if full == path and "POST" in (getattr(route, "methods", None) or ())
        ]
        if len(found) != 1:  # the FastAPI route is the reference; it must be there, once
            raise RuntimeError(f"{path}: expected one POST route, found {len(found)}")
        self._route = found[0]
        self.shadow_of = self._route
        """`roles.app_routes` lists the FastAPI route, not this one (same path, same role)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == self._path
            and not scope.get("root_path")
            and SLOW_KEY not in scope
        ):
            return Match.FULL, {"endpoint": self._handler, "path_params": {}}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        parsed = _plain_body(scope, body, self._model)
        if parsed is None:
            await self._slow(scope, receive, send, body)
            return
        scope["route"] = self._route  # what `authorize` reads the route's role from
        request = Request(scope, receive)
        await authorize(request)
        response = await self._handler(request, parsed)
        await response(scope, receive, send)

    async def _slow(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        """Through the app's router again, this route stepping aside, the body replayed."""
        scope[SLOW_KEY] = True
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self._app.router(scope, replay, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        return self._route.url_path_for(name, **path_params)


async def _read_body(receive: Receive) -> bytes:
    """The whole body, as `Request.body()` reads it (the guard's and FastAPI's size limits
    are in `receive` and apply as it comes in)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()  # as `Request.body()` does
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _plain_body(scope: Scope, body: bytes, model: type[BaseModel]) -> BaseModel | None:
    """The body as `model`, or None for anything the FastAPI route should answer."""
    if scope.get("query_string") or not body:
        return None
    content_type = None
    for key, value in scope["headers"]:
        if key == b"content-type":
            if content_type is not None:
                return None  # two: FastAPI's choice, not ours to guess
            content_type = bytes(value).lower()
    if content_type not in JSON_TYPES:
        return None
    try:
        data = json.loads(body)  # what FastAPI's `request.json()` does
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None
