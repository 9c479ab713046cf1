"""A `daena mcp serve` on another host that dies without ending its sessions: its pid means
nothing here, so its heartbeat decides (engine/mcp_sessions.py, migration 18). Runs on
SQLite and on `--backend=postgresql` (the database shared across hosts it is for)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from engine import Engine, Settings
from engine.mcp_sessions import EXPIRY_SEC, HEARTBEAT_SEC, McpSessions
from tests.mcp_gateway.conftest import rows, serve_params, wait_for_pending

HERE = Path(__file__).parent


async def _session(eng: Engine) -> dict[str, object]:
    row = await eng.db.fetchone("SELECT * FROM mcp_sessions")
    assert row is not None
    return dict(row)


async def test_a_killed_server_on_another_host_is_orphaned_once_its_heartbeat_expires(
    settings: Settings,
) -> None:
    """The server reports host `host-b` and renews its heartbeat; SIGKILLed, it is still
    taken for alive (its heartbeat is fresh, and its pid is not asked: another host's);
    once the heartbeat is older than EXPIRY_SEC any process ends its session and orphans
    its wait; approving runs the request once, its result kept in the audit log."""
    params = serve_params(settings, "--agent", "bot")
    assert params.args[:2] == ["-m", "daena_tui"]
    args = [str(HERE / "other_host.py"), "host-b", *params.args[2:]]
    launcher = json.dumps([params.command, args, params.cwd, params.env])
    client = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "waiting_client.py"),
        launcher,
        "shell_exec",
        json.dumps({"command": "git status --short --branch"}),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=params.cwd,
    )
    try:
        async with Engine.open(settings) as eng:
            sessions = McpSessions(eng.db, eng.audit, eng.approvals)
            request_id = await wait_for_pending(eng)
            for _ in range(300):  # bounded: the server registers the wait
                if await sessions.wait_state(request_id) == "waiting":
                    break
                await asyncio.sleep(0.05)
            first = await _session(eng)
            assert first["host"] == "host-b" and first["heartbeat_at"] is not None
            for _ in range(int(HEARTBEAT_SEC * 3 / 0.1)):  # it renews its heartbeat
                if (await _session(eng))["heartbeat_at"] != first["heartbeat_at"]:
                    break
                await asyncio.sleep(0.1)
            assert (await _session(eng))["heartbeat_at"] != first["heartbeat_at"]
            assert await sessions.reap() == 0  # alive on another host: left alone
            os.kill(int(str(first["pid"])), signal.SIGKILL)  # no goodbye
            assert await sessions.reap() == 0  # its heartbeat is fresh: not known dead yet
            assert await sessions.wait_state(request_id) == "waiting"
            async with eng.db.transaction() as tx:  # EXPIRY_SEC pass without a renewal
                await tx.execute(
                    "UPDATE mcp_sessions SET heartbeat_at = heartbeat_at - ?", (EXPIRY_SEC + 1,)
                )
            assert await sessions.orphaned() == {request_id}  # the inbox's look reaps it
            [gone] = await sessions.list()
            assert gone.ended_at is not None and (gone.waiting, gone.orphaned) == (0, 1)
            approved = await eng.approve(request_id, reason="still wanted")
            assert approved.ok, approved.error
            done = await eng.approvals.get(request_id)
            record = await eng.audit.get(done.run_audit_id or -1)
            assert await sessions.reap() == 0  # ended once
    finally:
        if client.returncode is None:  # it may have ended when its server died
            client.kill()
        await client.wait()
    assert done.run_status == "ok" and record is not None
    assert "## main" in (record.result_summary or "")
    [(runs,)] = await rows(
        settings,
        "SELECT COUNT(*) FROM audit WHERE tool = 'shell_exec' AND action = 'run'"
        " AND status NOT IN ('pending_approval')",
    )
    assert runs == 1


async def test_another_hosts_session_without_a_heartbeat_is_never_reaped(eng: Engine) -> None:
    """Written before migration 18 (or by a server that never renews): nothing tells that
    its server died, so it stays; one of this host whose process is gone is reaped."""
    sessions = McpSessions(eng.db, eng.audit, eng.approvals)
    old = await sessions.open("agent:a", "old", "stdio")
    dead_here = await sessions.open("agent:b", "here", "stdio")
    async with eng.db.transaction() as tx:
        await tx.execute(
            "UPDATE mcp_sessions SET host = 'host-old', heartbeat_at = NULL WHERE id = ?", (old,)
        )
        await tx.execute(
            "UPDATE mcp_sessions SET pid = 999999999, heartbeat_at = NULL WHERE id = ?",
            (dead_here,),
        )
    assert await sessions.reap() == 1
    ended = {s.id: s.ended_at is not None for s in await sessions.list()}
    assert ended == {old: False, dead_here: True}
