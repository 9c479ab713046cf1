"""`daena mcp serve --http`: the streamable HTTP transport with agent tokens, driven by the
SDK's real client; the server runs on a pre-bound loopback socket in this test's loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from daena_tui.mcp.http import http_app
from engine import Engine, Settings
from tests.mcp_gateway.conftest import rows, wait_for_pending


@asynccontextmanager
async def served(eng: Engine) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(http_app(eng, progress_every=0.2), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(300):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


@asynccontextmanager
async def client(url: str, token: str) -> AsyncIterator[ClientSession]:
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_http_lists_calls_and_waits_for_approval_as_the_tokens_agent(
    settings: Settings,
) -> None:
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async with Engine.open(settings) as eng, Engine.open(settings) as operator:
        _, token = await operator.credentials.mint("helper", operator="op@test", expires_at=None)
        _, other = await operator.credentials.mint("other", operator="op@test", expires_at=None)
        async with served(eng) as url, client(url, token) as one, client(url, other) as two:
            names = {t.name for t in (await one.list_tools()).tools}
            assert "git_status" in names
            low = await two.call_tool("git_status", {})
            assert low.is_error is False
            call = asyncio.create_task(
                one.call_tool(
                    "shell_exec", {"command": "git status"}, progress_callback=on_progress
                )
            )
            request_id = await wait_for_pending(operator)
            assert (await operator.approvals.get(request_id)).requester == "agent:helper"
            for _ in range(200):
                if progress:
                    break
                await asyncio.sleep(0.05)
            await operator.approve(request_id)
            result = await asyncio.wait_for(call, 30)
    assert progress and "s left" in (progress[0] or "")
    assert result.is_error is False and result.structured_content["status"] == "ran"


async def test_http_refuses_without_a_valid_agent_token(settings: Settings) -> None:
    async with Engine.open(settings) as eng, served(eng) as url, httpx.AsyncClient() as http:
        none = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        wrong = await http.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": "Bearer daena_agent_0000000000000000_" + "x" * 43},
        )
    assert none.status_code == 401 and wrong.status_code == 401
    assert "token" in none.json()["error"]


async def test_a_session_stays_bound_to_the_agent_that_opened_it(settings: Settings) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"},
        },
    }
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "git_status", "arguments": {}},
    }
    accept = {"Accept": "application/json, text/event-stream"}
    async with Engine.open(settings) as eng:
        _, mine = await eng.credentials.mint("owner", operator="op@test", expires_at=None)
        _, theirs = await eng.credentials.mint("intruder", operator="op@test", expires_at=None)
        async with served(eng) as url, httpx.AsyncClient() as http:
            opened = await http.post(
                url, json=init, headers={**accept, "Authorization": f"Bearer {mine}"}
            )
            session = opened.headers["mcp-session-id"]
            base = {**accept, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
            await http.post(
                url,
                json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                headers={**base, "Authorization": f"Bearer {mine}"},
            )
            own = await http.post(
                url, json=call, headers={**base, "Authorization": f"Bearer {mine}"}
            )
            hijack = await http.post(
                url, json=call, headers={**base, "Authorization": f"Bearer {theirs}"}
            )
    assert '"isError":false' in own.text.replace(" ", "")
    assert "belongs to agent:owner" in hijack.text
    actors = await rows(settings, "SELECT actor FROM audit WHERE tool = 'git_status'")
    assert actors == [("agent:owner",)]


async def test_http_refusal_denial_expiry_cancellation_and_malformed_json_rpc(
    settings: Settings,
) -> None:
    """Over streamable HTTP as over stdio: a refusal is `isError` naming the rule; a denial,
    an expiry and a cancellation each end the wait with nothing run; a body that is not
    JSON-RPC is a JSON-RPC parse error and the server goes on serving."""
    from engine.errors import ApprovalError

    async with Engine.open(settings) as eng, Engine.open(settings) as operator:
        _, token = await operator.credentials.mint("helper", operator="op@test", expires_at=None)
        async with served(eng) as url, client(url, token) as agent:
            refused = await agent.call_tool("filesystem_write", {"path": "x", "content": "y"})
            invalid = await agent.call_tool("git_diff", {"staged": "yes please"})
            denied_call = asyncio.create_task(
                agent.call_tool("shell_exec", {"command": "git status"})
            )
            request_id = await wait_for_pending(operator)
            await operator.deny(request_id, "not now")
            denied = await asyncio.wait_for(denied_call, 30)
            expiring = asyncio.create_task(agent.call_tool("shell_exec", {"command": "git log"}))
            request_id = await wait_for_pending(operator)
            async with operator.db.transaction() as tx:  # the clock runs out
                await tx.execute(
                    "UPDATE approval_requests SET expires_at = 0 WHERE id = ?", (request_id,)
                )
            expired = await asyncio.wait_for(expiring, 30)
            cancelled = asyncio.create_task(agent.call_tool("shell_exec", {"command": "git diff"}))
            request_id = await wait_for_pending(operator)
            cancelled.cancel()
            for _ in range(300):
                withdrawn = await operator.approvals.get(request_id)
                if withdrawn.status != "pending":
                    break
                await asyncio.sleep(0.05)
            with pytest.raises(ApprovalError):
                await operator.approve(request_id)
            async with httpx.AsyncClient() as http:
                garbage = await http.post(
                    url,
                    content=b"{this is not json",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        "Accept": "application/json, text/event-stream",
                    },
                )
            alive = await agent.call_tool("git_status", {})
    assert refused.is_error and refused.structured_content["rule"] == "disabled"
    assert invalid.is_error and invalid.structured_content["rule"] == "invalid_args"
    assert denied.is_error and "not now" in denied.content[0].text
    assert expired.is_error and "expired, nothing ran" in expired.content[0].text
    assert withdrawn.status == "denied" and withdrawn.decided_by == "agent:helper"
    assert garbage.status_code == 400 and "error" in garbage.json()
    assert alive.is_error is False
    [(ran,)] = await rows(
        settings,
        "SELECT COUNT(*) FROM audit WHERE tool = 'shell_exec' AND action = 'run'"
        " AND status NOT IN ('pending_approval')",
    )
    assert ran == 0  # denied, expired, withdrawn: nothing ran


async def test_http_session_ended_while_waiting_leaves_the_request_orphaned(
    settings: Settings,
) -> None:
    """Over HTTP the wait is orphaned when its connection drops or the session ends (the
    client's DELETE), whichever comes first. Approving runs it once."""
    from engine.mcp_sessions import McpSessions

    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"},
        },
    }
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "shell_exec", "arguments": {"command": "git status"}},
    }
    async with Engine.open(settings) as eng, Engine.open(settings) as operator:
        _, token = await operator.credentials.mint("helper", operator="op@test", expires_at=None)
        sessions = McpSessions(operator.db, operator.audit, operator.approvals)
        auth = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
        async with served(eng) as url, httpx.AsyncClient() as http:
            opened = await http.post(url, json=init, headers=auth)
            headers = {
                **auth,
                "mcp-session-id": opened.headers["mcp-session-id"],
                "mcp-protocol-version": "2025-11-25",
            }
            await http.post(
                url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
            )

            async def post() -> None:
                async with http.stream("POST", url, json=call, headers=headers) as response:
                    async for _ in response.aiter_lines():
                        pass

            waiting = asyncio.create_task(post())
            request_id = await wait_for_pending(operator)
            for _ in range(300):
                if await sessions.wait_state(request_id) == "waiting":
                    break
                await asyncio.sleep(0.05)
            waiting.cancel()  # the connection drops: the session lives on
            await http.delete(url, headers=headers)  # the session ends
            for _ in range(300):
                if await sessions.wait_state(request_id) == "orphaned":
                    break
                await asyncio.sleep(0.05)
            assert await sessions.orphaned() == {request_id}
            approved = await operator.approve(request_id)
    assert approved.ok, approved.error
    [(runs,)] = await rows(
        settings,
        "SELECT COUNT(*) FROM audit WHERE tool = 'shell_exec' AND action = 'run' AND status = 'ok'",
    )
    assert runs == 1


async def test_a_killed_http_client_orphans_its_wait_while_its_session_lives_on(
    settings: Settings,
) -> None:
    """The SDK's streamable HTTP client, in its own process, is SIGKILLed while its call
    waits: no cancellation, no DELETE, only the TCP connection gone. The wait is marked
    orphaned as a stdio disconnect is (the session itself is not ended: the protocol lets
    a client come back); approving it runs it exactly once, the result kept in the audit."""
    import json
    import signal
    import sys
    from pathlib import Path

    from engine.errors import ApprovalError
    from engine.mcp_sessions import McpSessions

    client = Path(__file__).with_name("http_waiting_client.py")
    async with Engine.open(settings) as eng, Engine.open(settings) as operator:
        _, token = await operator.credentials.mint("helper", operator="op@test", expires_at=None)
        sessions = McpSessions(operator.db, operator.audit, operator.approvals)
        async with served(eng) as url:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(client),
                url,
                token,
                "shell_exec",
                json.dumps({"command": "git status --short --branch"}),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                request_id = await wait_for_pending(operator)
                for _ in range(300):  # bounded: the server registers the wait
                    if await sessions.wait_state(request_id) == "waiting":
                        break
                    await asyncio.sleep(0.05)
                assert await sessions.wait_state(request_id) == "waiting"
            finally:
                proc.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(proc.wait(), 30) == -signal.SIGKILL
            for _ in range(300):  # the server sees the connection close
                if await sessions.wait_state(request_id) == "orphaned":
                    break
                await asyncio.sleep(0.05)
            assert await sessions.orphaned() == {request_id}
            [session] = await sessions.list()
            assert session.ended_at is None  # the session lives on; this call's wait is gone
            assert (session.waiting, session.orphaned) == (0, 1)
            approved = await operator.approve(request_id, reason="still wanted")
            assert approved.ok, approved.error
            with pytest.raises(ApprovalError):
                await operator.approve(request_id)  # once only
            done = await operator.approvals.get(request_id)
            record = await operator.audit.get(done.run_audit_id or -1)
    assert done.run_status == "ok" and record is not None
    assert "## main" in (record.result_summary or "")
    [(runs,)] = await rows(
        settings,
        "SELECT COUNT(*) FROM audit WHERE tool = 'shell_exec' AND action = 'run'"
        " AND status NOT IN ('pending_approval')",
    )
    gone = await rows(settings, "SELECT kind FROM events WHERE kind = 'McpClientGone'")
    assert runs == 1 and gone == [("McpClientGone",)]
