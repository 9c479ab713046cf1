"""The observer's engine (engine/observer.py): it reads everything and changes nothing."""

from __future__ import annotations

import pytest

from engine import Engine, PolicyError
from engine.observer import observe


async def test_an_observer_reads_the_inbox_and_can_decide_nothing(eng: Engine) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    request = await eng.as_agent("bot").request(
        "filesystem_write", {"path": "x.txt", "content": "APPROVED\n"}
    )
    audit_before = await eng.audit.last_id()
    seen = observe(eng)
    assert [r.id for r in await seen.approvals.list("pending")] == [request.id]
    assert (await seen.audit.page(None, limit=10))[0].id == audit_before
    refused = [
        lambda: seen.approve(request.id, reason="ok"),
        lambda: seen.deny(request.id, "no"),
        lambda: seen.extend(request.id),
        lambda: seen.grant("filesystem_write", {}),
        lambda: seen.set_tool_enabled("shell_exec", True),
        lambda: seen.update_config({"lockdown": True}),
        lambda: seen.run(None),
        lambda: seen.approvals.decide(request.id),
        lambda: seen.nodes.add("n", "http://127.0.0.1:9"),
        lambda: seen.nodes.remove("n"),
        lambda: seen.tasks.cancel("t"),
        lambda: seen.audit.export(None),
        lambda: seen.audit.append(None, None),
        lambda: seen.db.write(lambda stx: None),
        lambda: seen.db.transaction(),
        lambda: seen.as_agent("bot"),
        lambda: seen.upstream.enable("x"),
    ]
    for attempt in refused:
        with pytest.raises(PolicyError, match="observer can see everything and decide nothing"):
            attempt()
    with pytest.raises(PolicyError):
        seen.operator = "someone"
    assert (await eng.approvals.get(request.id)).status == "pending"
    assert await eng.audit.last_id() == audit_before
    assert not (eng.settings.execution_workspace_root / "x.txt").exists()
