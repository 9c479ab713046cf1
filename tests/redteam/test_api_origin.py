"""Red team, promise 5: a page the agent serves on this machine cannot act as the operator.

Agents run dev servers on loopback and ask the operator to open them. The API let a
browser through when its `Origin` named one of the API's host names, whatever the port, so
a page at http://127.0.0.1:5173 could send the operator's cookie (same site: ports do not
count) to the API at :8000. JSON bodies need a preflight, but `POST /approve?tool_name=`
has none: the page minted grants as the operator. Only the API's own origin (scheme, host
and port of the request) is let through now. Real app in-process, real engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from daena_tui.api import V1_PREFIX, create_api
from engine import AuditFilter, Engine
from tests.conftest import make_repo, make_settings

TOKEN = "api-test-token-0123456789"
COOKIE = {"daena_execution_token": TOKEN}  # the operator logged in to the dashboard


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[tuple[Engine, httpx.AsyncClient]]:
    ws = tmp_path / "ws"
    make_repo(ws)
    settings = make_settings(ws, tmp_path / "d.db", EXECUTION_TOKEN=TOKEN)
    async with Engine.open(settings) as eng:
        transport = httpx.ASGITransport(app=create_api(eng))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:8000", cookies=COOKIE
        ) as client:
            yield eng, client


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:5173",
        "http://localhost:8000",
        "http://127.0.0.1",
        "https://127.0.0.1:8000",
        "http://127.0.0.1:8000.evil.example",
        "null",
    ],
)
async def test_a_page_on_another_port_cannot_mint_a_grant(
    browser: tuple[Engine, httpx.AsyncClient], origin: str
) -> None:
    eng, client = browser
    response = await client.post(
        f"{V1_PREFIX}/approve",
        params={"tool_name": "shell_exec"},
        headers={"Origin": origin, "Content-Type": "text/plain"},
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden_origin"
    assert await eng.audit.count(AuditFilter(action="grant")) == 0


async def test_the_apis_own_origin_still_works(browser: tuple[Engine, httpx.AsyncClient]) -> None:
    _, client = browser
    response = await client.get(f"{V1_PREFIX}/tools", headers={"Origin": "http://127.0.0.1:8000"})
    assert response.status_code == 200, response.text
