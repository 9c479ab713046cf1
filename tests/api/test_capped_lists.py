"""Lists that stop at a limit say so over HTTP: every list route, native and v1, for the
operator and for an agent (who is counted only its own).

Native routes keep their bare JSON arrays and say it in headers (`X-Total-Count`,
`X-Truncated`, and for the audit log `Link: <…before_id=N>; rel="next"`); the v1 envelopes
gain `total` and `truncated` beside the original fields."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from daena_tui.api import V1_PREFIX, v1_routes
from daena_tui.api import V2_PREFIX as API_PREFIX
from engine import audit_search
from tests.api.conftest import BASE_URL, Api


async def ask(api: Api, who: str, n: int) -> list[str]:
    """`n` pending requests from agent `who`."""
    agent = api.eng.as_agent(who)
    ids = []
    for i in range(n):
        result = await agent.run("filesystem_write", {"path": f"{who}{i}.txt", "content": "x"})
        assert result.approval_request_id is not None
        ids.append(result.approval_request_id)
    return ids


@pytest.fixture
async def asked(api: Api) -> Api:
    """Four pending requests from `bot`, three from `other`."""
    await api.enable("filesystem_write")
    await ask(api, "bot", 4)
    await ask(api, "other", 3)
    return api


@pytest.fixture
async def v1(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with api.client() as client:
        client.base_url = httpx.URL(BASE_URL + V1_PREFIX)
        yield client


@pytest.fixture
async def bot(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """The agent `bot`'s own token."""
    _, token = await api.eng.credentials.mint("bot", operator="op@test", expires_at=None)
    async with api.client(token=token) as client:
        yield client


def said(response: httpx.Response) -> tuple[int, str]:
    assert response.status_code == 200, response.text
    return int(response.headers["X-Total-Count"]), response.headers["X-Truncated"]


@pytest.mark.parametrize("path", ["/approvals", "/requests"])
async def test_native_request_lists_say_how_many_there_are(asked: Api, path: str) -> None:
    cut = await asked.http.get(path, params={"limit": 5})
    assert len(cut.json()) == 5 and said(cut) == (7, "true")
    whole = await asked.http.get(path, params={"limit": 7})
    assert len(whole.json()) == 7 and said(whole) == (7, "false")
    assert isinstance(whole.json(), list)  # the contract: still a bare array


async def test_an_agent_is_counted_only_its_own(asked: Api, bot: httpx.AsyncClient) -> None:
    for path in ("/approvals", "/requests"):
        cut = await bot.get(path, params={"limit": 3})
        assert len(cut.json()) == 3 and said(cut) == (4, "true")
        assert {r["requester"] for r in cut.json()} == {"agent:bot"}


async def test_the_pending_list_has_a_limit_checked_like_the_others(asked: Api) -> None:
    for bad in ("0", "1001"):
        response = await asked.http.get("/approvals", params={"limit": bad})
        assert response.status_code == 422 and "limit" in response.text


async def test_native_tasks_say_how_many_there_are(api: Api) -> None:
    for n in range(3):
        created = await api.http.post("/tasks", json={"goal": f"look at the repo {n}"})
        assert created.status_code == 201, created.text
    cut = await api.http.get("/tasks", params={"limit": 2})
    assert len(cut.json()) == 2 and said(cut) == (3, "true")
    assert said(await api.http.get("/tasks", params={"limit": 3})) == (3, "false")


async def test_native_logs_name_the_next_page_until_the_last(api: Api) -> None:
    for _ in range(5):
        assert (await api.run("git_status", dry_run=True)).status_code == 200
    seen: list[int] = []
    url: str | None = f"{API_PREFIX}/logs?limit=2&action=dry_run"
    while url is not None:
        page = await api.http.get(BASE_URL + url)
        assert page.status_code == 200, page.text
        seen += [r["id"] for r in page.json()]
        link = page.headers.get("Link")
        assert page.headers["X-Truncated"] == ("true" if link else "false")
        url = link.split(">")[0].lstrip("<") if link else None
        assert len(seen) <= 5
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)  # each once, newest first


async def test_a_short_text_scan_names_where_to_go_on(api: Api, monkeypatch) -> None:
    """A text under three characters is scanned a slice at a time: a page with nothing (or
    little) in the newest slice still says there is more to search, and where."""
    monkeypatch.setattr(audit_search, "SHORT_SCAN", 3)
    for _ in range(8):
        assert (await api.run("git_status", dry_run=True)).status_code == 200
    first = await api.http.get("/logs", params={"text": "zq", "limit": 10})
    assert first.json() == [] and first.headers["X-Truncated"] == "true"
    assert "before_id=" in first.headers["Link"] and 'rel="next"' in first.headers["Link"]


async def test_v1_lists_add_total_and_truncated_beside_the_original_fields(
    asked: Api, v1: httpx.AsyncClient, monkeypatch
) -> None:
    cut = (await v1.get("/requests", params={"limit": 5})).json()
    assert set(cut) == {"success", "requests", "total", "truncated"}
    assert len(cut["requests"]) == 5 and (cut["total"], cut["truncated"]) == (7, True)
    monkeypatch.setattr(v1_routes, "PENDING_LIMIT", 6)
    pending = (await v1.get("/approvals")).json()
    assert len(pending["approvals"]) == 6 and (pending["total"], pending["truncated"]) == (7, True)
    monkeypatch.setattr(v1_routes, "PENDING_LIMIT", 500)
    pending = (await v1.get("/approvals")).json()
    assert len(pending["approvals"]) == 7 and pending["truncated"] is False


async def test_v1_tasks_and_logs_say_when_they_stop_short(api: Api, v1: httpx.AsyncClient) -> None:
    for n in range(3):
        assert (await v1.post("/tasks", json={"goal": f"goal {n}"})).status_code == 200
        assert (await v1.post("/run", json={"tool_name": "git_status"})).status_code == 200
    tasks = (await v1.get("/tasks", params={"limit": 2})).json()
    assert len(tasks["tasks"]) == 2 and (tasks["total"], tasks["truncated"]) == (3, True)
    logs = (await v1.get("/logs", params={"limit": 2})).json()
    assert logs["count"] == 2 and logs["truncated"] is True
    logs = (await v1.get("/logs", params={"limit": 50})).json()
    assert logs["count"] == 3 and logs["truncated"] is False
