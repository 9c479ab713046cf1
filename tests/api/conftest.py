"""Fixtures for the HTTP API tests: a real git workspace, a real database, a real engine,
and httpx talking to the app in-process (`httpx.ASGITransport`).

The engine is opened here (in the test's event loop) and handed to `create_api`, so the
app's lifespan has nothing to open; one test runs the lifespan itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from daena_tui.api import TOKEN_HEADER, create_api
from daena_tui.api import V2_PREFIX as API_PREFIX
from engine import Engine, Settings
from tests.conftest import make_repo, make_settings

TOKEN = "api-test-token-0123456789"
BASE_URL = "http://127.0.0.1"


async def refuse_5xx(response: httpx.Response) -> None:
    """Event hook: the API must never answer a 5xx in these tests."""
    if response.status_code >= 500:
        await response.aread()
        raise AssertionError(f"API answered {response.status_code}: {response.text}")


def api_client(
    app: FastAPI,
    *,
    token: str | None = TOKEN,
    headers: dict[str, str] | None = None,
    raise_app_exceptions: bool = True,
    refuse_errors: bool = True,
) -> httpx.AsyncClient:
    all_headers = {TOKEN_HEADER: token} if token is not None else {}
    all_headers.update(headers or {})
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions),
        base_url=BASE_URL + API_PREFIX,
        headers=all_headers,
        event_hooks={"response": [refuse_5xx]} if refuse_errors else {},
    )


@dataclass
class Api:
    """The app, its engine, and a client sending the right token."""

    app: FastAPI
    eng: Engine
    http: httpx.AsyncClient
    workspace: Path

    async def run(self, tool: str, args: dict[str, Any] | None = None, **extra: Any) -> Any:
        return await self.http.post("/run", json={"tool_name": tool, "args": args or {}, **extra})

    async def set_config(self, **changes: Any) -> None:
        response = await self.http.patch("/config", json=changes)
        assert response.status_code == 200, response.text

    async def enable(self, tool: str, enabled: bool = True) -> None:
        response = await self.http.patch(f"/tools/{tool}/enabled", json={"enabled": enabled})
        assert response.status_code == 200, response.text

    def client(self, **kw: Any) -> httpx.AsyncClient:
        return api_client(self.app, **kw)


@pytest.fixture
def api_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    make_repo(ws)
    return ws


@pytest.fixture
def api_settings(api_workspace: Path, tmp_path: Path) -> Settings:
    return make_settings(api_workspace, tmp_path / "state" / "daena.db", EXECUTION_TOKEN=TOKEN)


@pytest.fixture
async def api_engine(api_settings: Settings) -> AsyncIterator[Engine]:
    async with Engine.open(api_settings) as eng:
        yield eng


@pytest.fixture
async def api(api_engine: Engine, api_workspace: Path) -> AsyncIterator[Api]:
    app = create_api(api_engine)
    async with api_client(app) as http:
        yield Api(app, api_engine, http, api_workspace)
    await app.state.api.aclose()


@pytest.fixture
def make_api() -> Callable[..., FastAPI]:
    """`make_api(engine_or_settings, **kw)`: the factory, for tests that need options."""
    return create_api
