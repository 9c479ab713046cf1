"""Security promise 7 over HTTP: every refused `POST /run` leaves one refused audit record,
with the arguments redacted (the API token among them)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import TOKEN, Api

BODIES: list[dict[str, Any]] = [
    {"tool_name": "no_such_tool", "args": {"x": TOKEN}},
    {"tool_name": "filesystem_read", "args": {"path": 5, "y": f"pre{TOKEN}"}},
    {"tool_name": "filesystem_read", "args": {"path": f"../{TOKEN}"}},
    {"tool_name": "filesystem_write", "args": {"path": "a", "content": TOKEN}},  # disabled
    {"tool_name": "filesystem_read", "args": {"path": "x"}, "approval_id": TOKEN},
]


@pytest.mark.parametrize("body", BODIES)
async def test_a_refused_run_over_http_is_audited_once(api: Api, body: dict[str, Any]) -> None:
    if body.get("approval_id"):
        await api.set_config(lockdown=True)
    before = await api.eng.audit.count()
    response = await api.http.post("/run", json=body)
    assert response.status_code in (400, 403, 404, 422, 423), response.text
    records = await api.eng.audit.after(before)
    assert [(r.action, r.status, r.tool) for r in records] == [
        ("run", "refused", body["tool_name"])
    ]
    stored = " ".join(str(v) for v in records[0].to_dict().values())
    assert TOKEN not in stored
