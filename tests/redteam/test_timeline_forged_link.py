"""Red team, the run timeline and "decided by": one agent cannot write itself into another's
run, nor decide it.

Mallory knows Alice's pending request id (ids are not secret). It passes that id as the
grant of its own call, and tries to withdraw Alice's request as if its MCP client had
cancelled. Alice's timeline (by trace id, made by the engine) must still hold only Alice's
records and still wait for a decision; Mallory's refused call lives in Mallory's own trace.
"""

from __future__ import annotations

from engine import Engine
from engine.mcp_sessions import McpSessions
from engine.timeline import timeline


async def test_another_agents_request_id_joins_nothing_and_decides_nothing(eng: Engine) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    alice = eng.as_agent("alice")
    mallory = eng.as_agent("mallory")
    victim = await alice.request("filesystem_write", {"path": "a.txt", "content": "a\n"})
    forged = await mallory.run(
        "filesystem_write", {"path": "m.txt", "content": "m\n"}, approval_id=victim.id
    )
    assert forged.status == "refused" and "no grant" in (forged.error or "")
    sessions = McpSessions(eng.db, eng.audit, eng.approvals)
    assert not await sessions.withdraw(victim.id, mallory.identity, "cancelled")

    story = await timeline(eng.audit, trace_id=victim.trace_id)
    assert {s.actor for s in story.steps} == {"agent:alice"}
    assert [s.stage for s in story.steps] == ["request"]
    assert story.waiting_for == "a decision"
    own = await timeline(eng.audit, trace_id=forged.trace_id)
    assert [(s.actor, s.stage, s.status) for s in own.steps] == [
        ("agent:mallory", "outcome", "refused")
    ]
    after = await eng.approvals.get(victim.id)
    assert (after.status, after.decided_by) == ("pending", None)
    assert not (eng.settings.execution_workspace_root / "m.txt").exists()
