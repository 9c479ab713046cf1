"""`fast_run.FastRunRoute` answers `POST /run` (both prefixes) exactly as the FastAPI route.

Two apps on one engine: the app as served (the fast route first) and the reference
(`create_api(..., fast_run=False)`, FastAPI's route alone). Every request goes to both; the
status, the body (run ids aside), the `Allow` header and the number of audit records it
left must be the same. A spy on the scope says which path served each request, so the plain
case is known to take the fast path and the others the FastAPI route.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from daena_tui.api import TOKEN_HEADER, create_api
from daena_tui.api.fast_run import RUN_PATHS, SLOW_KEY
from daena_tui.api.paths import V1_PREFIX
from engine import Engine
from tests.api.conftest import BASE_URL, TOKEN

IDS = re.compile(r"(exr_)?req_[A-Za-z0-9_-]+")
VARYING = ("audit_id", "trace_id", "approval_request_id", "duration_ms")


class Spy:
    """Wraps an app; remembers the scope of the last request (the router fills it in)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], path: str) -> None:
        self.app = app
        self.scope: Scope = {}
        self.handler = RUN_PATHS[path][1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        await self.app(scope, receive, send)

    @property
    def fast(self) -> bool:
        """The fast route served it: it matched (its endpoint) and did not hand it on."""
        return self.scope.get("endpoint") is self.handler and SLOW_KEY not in self.scope


@dataclass
class Pair:
    path: str
    eng: Engine
    agent_token: str
    fast: Spy
    ref: Spy
    fast_http: httpx.AsyncClient
    ref_http: httpx.AsyncClient

    @property
    def v1(self) -> bool:
        return self.path.startswith(V1_PREFIX)

    async def both(self, method: str = "POST", **kw: Any) -> bool:
        """Send one request to each app; assert the same answer; True if the fast path
        served it."""
        answers = []
        for http in (self.fast_http, self.ref_http):
            before = await self.eng.audit.count()
            response = await http.request(method, self.path, **kw)
            added = await self.eng.audit.count() - before
            answers.append((response.status_code, shape(response), allow(response), added))
        assert answers[0] == answers[1], (kw, answers)
        return self.fast.fast


def allow(response: httpx.Response) -> str | None:
    return response.headers.get("allow")


def shape(response: httpx.Response) -> Any:
    """The body with this run's own ids replaced (they differ from run to run)."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        for key in VARYING:
            if body.get(key) is not None:
                body[key] = "<id>"
        for key in ("detail", "error"):
            if isinstance(body.get(key), str):
                body[key] = IDS.sub("<id>", body[key])
    return body


@pytest.fixture(params=sorted(RUN_PATHS))
async def pair(api_engine: Engine, request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    path = str(request.param)
    _, agent_token = await api_engine.credentials.mint("bot", operator="op@test", expires_at=None)
    fast = Spy(create_api(api_engine, max_body_bytes=4096), path)
    ref = Spy(create_api(api_engine, max_body_bytes=4096, fast_run=False), path)

    def client(app: Spy) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL, headers={TOKEN_HEADER: TOKEN}
        )

    async with client(fast) as fast_http, client(ref) as ref_http:
        yield Pair(path, api_engine, agent_token, fast, ref, fast_http, ref_http)


def body(**fields: Any) -> dict[str, Any]:
    return {"content": json.dumps(fields), "headers": {"content-type": "application/json"}}


async def test_a_plain_run_takes_the_fast_path_and_answers_as_fastapi(pair: Pair) -> None:
    dry = {"tool_name": "git_status", "args": {}, "dry_run": True}
    assert await pair.both(**body(**dry))
    assert await pair.both(**body(tool_name="git_status"))  # a real run
    if pair.v1:
        assert await pair.both(**body(**dry, reason="why", department="ops", agent_id="a1"))
    else:
        assert await pair.both(**body(**dry, reason="why", requester="ci-bot"))
    json_utf8 = {"content-type": "application/json; charset=utf-8"}
    assert await pair.both(content=json.dumps(dry), headers=json_utf8)
    agent = {"content-type": "application/json", TOKEN_HEADER: pair.agent_token}
    assert await pair.both(content=json.dumps(dry), headers=agent)


async def test_refusals_and_engine_outcomes_are_the_same(pair: Pair) -> None:
    """Outcomes decided after the body is valid: served by the fast path, same answers."""
    cases = [
        {"tool_name": "no_such_tool"},
        {"tool_name": "apply_patch", "dry_run": True},  # disabled by default
        {"tool_name": "shell_exec", "args": {"command": "git status"}},  # needs approval
        {"tool_name": "filesystem_read", "args": {"path": "../outside.txt"}},
        {"tool_name": "filesystem_read", "args": {}},  # invalid arguments
        {"tool_name": "git_status", "args": {"cwd": "/"}},  # the original's cwd, refused
        {"tool_name": "git_status", "approval_id": "grant_nope"},
    ]
    for case in cases:
        assert await pair.both(**body(**case)), case
    agent = {"content-type": "application/json", TOKEN_HEADER: pair.agent_token}
    name = "agent_id" if pair.v1 else "requester"
    other = json.dumps({"tool_name": "git_status", name: "root"})  # 403, audited
    assert await pair.both(content=other, headers=agent)


async def test_lockdown_is_the_same(pair: Pair) -> None:
    await pair.eng.update_config({"lockdown": True}, "api:op@test")
    assert await pair.both(**body(tool_name="git_status", dry_run=True))


async def test_everything_else_goes_to_the_fastapi_route(pair: Pair) -> None:
    dry = json.dumps({"tool_name": "git_status", "dry_run": True})
    slow: list[dict[str, Any]] = [
        {"content": dry, "params": {"x": "1"}, "headers": {"content-type": "application/json"}},
        {"content": dry},  # no content type
        {"content": dry, "headers": {"content-type": "text/plain"}},
        {"content": dry, "headers": {"content-type": "application/vnd.x+json"}},
        {"content": b"", "headers": {"content-type": "application/json"}},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"[1, 2]", "headers": {"content-type": "application/json"}},
        {"content": b'"text"', "headers": {"content-type": "application/json"}},
        {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}},
        {"content": b"[" * 2000 + b"]" * 2000, "headers": {"content-type": "application/json"}},
        {"content": b"x" * 5000, "headers": {"content-type": "application/json"}},  # 413
        body(args={}),  # tool_name missing
        body(tool_name="git_status", extra=1),
        body(tool_name="git_status", dry_run="true"),  # strict: a string is not a bool
        body(tool_name="git_status", agent_id="not ok!", requester="not ok!"),
        body(tool_name="", dry_run=True),
        body(tool_name="git_status", args=[]),
    ]
    for case in slow:
        assert not await pair.both(**case), case
    chunks = [dry[:10].encode(), dry[10:].encode()]

    async def streamed() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    for http in (pair.fast_http, pair.ref_http):  # a body in two messages: the same answer
        response = await http.post(
            pair.path, content=streamed(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["dry_run"] is True


async def test_credentials_and_methods_are_the_same(pair: Pair) -> None:
    dry = json.dumps({"tool_name": "git_status", "dry_run": True})
    plain = {"content-type": "application/json"}
    for token in ("", "wrong-token", "daena_agent_" + "x" * 40):
        headers = {**plain, TOKEN_HEADER: token}
        assert not await pair.both(content=dry, headers=headers)  # 401 before any route
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        assert not await pair.both(method, content=dry, headers=plain)
    _, revoked = await pair.eng.credentials.mint("gone", operator="op@test", expires_at=None)
    await pair.eng.credentials.revoke("gone", operator="op@test")
    assert not await pair.both(content=dry, headers={**plain, TOKEN_HEADER: revoked})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
FIELD_NAMES = "tool_name args dry_run reason agent_id approval_id department requester x"
FIELDS = st.sampled_from(FIELD_NAMES.split())
TOOL_NAMES = st.sampled_from(["git_status", "filesystem_read", "shell_exec", "nope", ""])
VALUES = {
    "tool_name": TOOL_NAMES | JSON,
    "dry_run": st.booleans() | JSON,
    "requester": st.sampled_from(["ci-bot", "agent:bot"]) | JSON,
}


@st.composite
def run_bodies(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.sets(FIELDS, max_size=5))
    return {name: draw(VALUES.get(name, JSON)) for name in names}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fields=run_bodies())
async def test_any_body_gets_the_same_answer(pair: Pair, fields: dict[str, Any]) -> None:
    await pair.both(**body(**fields))
