"""Property-based fuzzing from the OpenAPI documents (schemathesis): the API app (both
prefixes, `/api/v1/execution` and `/api/v2`, in one document) and the node server app must
never answer a 5xx (the node's 504 for a command timeout excepted), never crash, reject
invalid input with a 4xx, accept what the schema allows, answer only documented statuses,
and name every method of a path in `Allow` (issue 14: the schema and the server agree).

Bounded for CI (about 30 examples per operation, no deadline); in-process over ASGI. The
fuzzed API has its own workspace and database, a node URL that points nowhere, no reachable
Ollama and no allowed web domain, so nothing leaves the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (  # resolved by name from schemathesis' check registry
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.python.asgi import shutdown_lifespans

from daena_tui.api import OPENAPI_PATH, TOKEN_HEADER, create_api
from daena_tui.api.app import TOOL_BODIES
from engine.protocol import NODE_TOOL_ARGS, RUN_TOOL_PATH
from engine.tools.registry import ToolRegistry
from node_server.app import create_app
from tests.api.conftest import TOKEN
from tests.conftest import make_repo, make_settings
from tests.node_server.conftest import TOKEN as NODE_TOKEN
from tests.node_server.conftest import make_workspace, node_settings

API_CHECKS = [
    not_a_server_error,
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    status_code_conformance,
    response_schema_conformance,
    response_headers_conformance,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
]

TOOL_BODY_OPERATIONS = {(path, method) for path, method in TOOL_BODIES}
NOWHERE = "http://127.0.0.1:9"  # discard port: connection refused at once
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def tame_body(context: Any, body: Any) -> Any:
    """Keep the fuzzer from switching lockdown on (every later run would only meet 423;
    lockdown has its own tests), and keep node URLs local: a valid one would make
    `GET /node/health` probe a random host (invalid URLs stay, for the 422 path)."""
    if not isinstance(body, dict):
        return body
    if _path(context).endswith("/config") and body.get("lockdown") is True:
        body = {**body, "lockdown": False}
    if not _path(context).endswith("/node/config") or not isinstance(body.get("url"), str):
        return body
    try:
        parts = urlsplit(body["url"].strip())
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        valid = False
    return {**body, "url": NOWHERE} if valid else body


TOOL_NAMES = sorted(ToolRegistry.default(plugins=False).names())


def _path(context: Any) -> str:
    return str(getattr(getattr(context, "operation", None), "path", ""))


def real_tool_names(context: Any, body: Any) -> Any:
    """Random tool names only reach "unknown tool": often use a real one instead, so the
    fuzzer exercises every tool's argument validation and policy."""
    is_run = _path(context).endswith(("/run", "/request"))
    if not is_run or not isinstance(body, dict) or not isinstance(body.get("tool_name"), str):
        return st.just(body)
    if not 1 <= len(body["tool_name"]) <= 100:  # a negative case: keep it negative
        return st.just(body)
    real = st.builds(
        lambda name, args: {**body, "tool_name": name, "args": args},
        st.sampled_from(TOOL_NAMES),
        st.sampled_from([body.get("args", {}), {}]),
    )
    return real | st.just(body)


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Any]:
    """The API on the variant's backend (`backend`: built again for the other one)."""
    base: Path = tmp_path_factory.mktemp("fuzz-api")
    make_repo(base / "ws")
    fuzz_settings = make_settings(
        base / "ws",
        base / "state" / "daena.db",
        EXECUTION_TOKEN=TOKEN,
        WINDOWS_NODE_URL=NOWHERE,
        OLLAMA_BASE_URL=NOWHERE,
        AUTOMATION_ALLOWED_DOMAINS="127.0.0.1",
    )
    app = create_api(fuzz_settings, allowed_hosts=["testserver"])
    schema = schemathesis.openapi.from_asgi(OPENAPI_PATH, app, headers={TOKEN_HEADER: TOKEN})
    schema.hook("map_body")(tame_body)
    schema.hook("flatmap_body")(real_tool_names)
    yield schema
    shutdown_lifespans()  # closes the engine the app's lifespan opened


def node_openapi(app: Any) -> dict[str, Any]:
    """The node's OpenAPI document (its docs route is off) with `run_tool`'s body described:
    the route reads raw JSON, so FastAPI cannot know it; the wire models can."""
    document: dict[str, Any] = app.openapi()
    variants = [
        {
            "type": "object",
            "properties": {
                "tool_name": {"const": name},
                "args": model.model_json_schema(ref_template="#/components/schemas/{model}"),
            },
            "required": ["tool_name", "args"],
        }
        for name, model in NODE_TOOL_ARGS.items()
    ]
    document["paths"][RUN_TOOL_PATH]["post"]["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": variants}}},
    }
    return document


@pytest.fixture(scope="module")
def node_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    base: Path = tmp_path_factory.mktemp("fuzz-node")
    ws = make_workspace(base)
    app = create_app(
        node_settings(ws, allowed_hosts=["testserver"], shell_allowlist=["echo", "git status"])
    )
    schema = schemathesis.openapi.from_dict(node_openapi(app))
    schema.app = app
    yield schema
    shutdown_lifespans()


lazy_api = schemathesis.pytest.from_fixture("api_schema")
lazy_node = schemathesis.pytest.from_fixture("node_schema")


@lazy_api.parametrize()
@FUZZ
def test_api_never_answers_5xx(case: Any) -> None:
    case.body = tame_body(case, case.body)  # explicit and coverage cases skip the hooks
    public = case.operation.definition.raw.get("x-daena-role") == "public"
    response = case.call(headers={} if public else {TOKEN_HEADER: TOKEN})
    sent = response.request.headers.get(TOKEN_HEADER)
    if public:  # no credential needed; a wrong token for the cookie is 401
        assert response.status_code != 401 or case.path.endswith("/token-cookie")
    elif sent == TOKEN:
        assert response.status_code != 401, response.text[:500]
    else:  # a negative case on the security header: it must be refused
        assert response.status_code == 401, f"token {sent!r}: {response.status_code}"
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    checks = API_CHECKS
    if (case.path, case.method.lower()) in TOOL_BODY_OPERATIONS:
        # A tool's own check holds rules no JSON schema can state (a URL that parses, a
        # path inside the workspace): schema-valid arguments may still be a 422 there.
        checks = [c for c in API_CHECKS if c is not positive_data_acceptance]
    if valid_as_sent(case):
        checks = [c for c in checks if c is not negative_data_rejection]
    case.validate_response(response, checks=checks, headers={TOKEN_HEADER: TOKEN})


def valid_as_sent(case: Any) -> bool:
    """A negative case this test made valid before sending it: `real_tool_names` gave its
    body a real tool (and arguments that fit), and the call always sends the token, so the
    server rightly accepts what schemathesis still counts as negative."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative or not isinstance(case.body, dict):
        return False
    others = [loc for loc in meta.components if loc.value not in ("body", "header")]
    headers = {p.name for p in case.operation.headers}
    if any(meta.is_negative_at(loc) for loc in others) or not headers <= {TOKEN_HEADER}:
        return False
    bodies = list(case.operation.body)
    return bool(bodies) and any(b.is_valid(case.body) for b in bodies)


@lazy_node.parametrize()
@FUZZ
def test_node_never_answers_5xx(case: Any) -> None:
    response = case.call(headers={"X-Windows-Node-Token": NODE_TOKEN})
    assert response.status_code != 401, response.text[:500]
    assert response.status_code < 500 or response.status_code == 504, (
        f"{response.status_code}: {response.text[:500]}"
    )
