"""`daena mcp serve` over stdio with the SDK's real client: every call through the policy."""

from __future__ import annotations

import asyncio

import pytest

from engine import Engine, Settings
from engine.errors import ApprovalError
from tests.mcp_gateway.conftest import mcp_client, rows, wait_for_pending


async def test_lists_enabled_tools_with_schemas_and_risk_annotations(settings: Settings) -> None:
    async with mcp_client(settings, "--agent", "bot") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert "git_status" in tools and "shell_exec" in tools
    assert "filesystem_write" not in tools  # disabled by default: not offered
    assert tools["git_status"].annotations.read_only_hint is True
    assert tools["shell_exec"].annotations.read_only_hint is False
    assert tools["web_scrape_bs4"].annotations.open_world_hint is True
    assert tools["git_diff"].input_schema["type"] == "object"
    assert "staged" in tools["git_diff"].input_schema["properties"]


async def test_low_risk_call_returns_structured_content_as_the_agent(settings: Settings) -> None:
    async with mcp_client(settings, "--agent", "bot") as client:
        result = await client.call_tool("git_status", {})
    assert result.is_error is False
    assert result.structured_content["status"] == "ok"
    assert result.structured_content["result"]["branch"] == "main"
    actors = {
        r[0] for r in await rows(settings, "SELECT actor FROM audit WHERE tool = 'git_status'")
    }
    assert actors == {"agent:bot"}


async def test_refused_unknown_and_invalid_calls_are_tool_errors_naming_the_rule(
    settings: Settings,
) -> None:
    async with mcp_client(settings, "--agent", "bot") as client:
        disabled = await client.call_tool("filesystem_write", {"path": "x", "content": "y"})
        unknown = await client.call_tool("no_such_tool", {})
        invalid = await client.call_tool("git_diff", {"staged": "not a bool", "bogus": 1})
        still_alive = await client.call_tool("git_status", {})
    assert disabled.is_error and disabled.structured_content["rule"] == "disabled"
    assert unknown.is_error and unknown.structured_content["rule"] == "unknown_tool"
    assert invalid.is_error and invalid.structured_content["rule"] == "invalid_args"
    assert "args." in invalid.content[0].text
    assert still_alive.is_error is False


async def test_risky_call_waits_with_progress_and_returns_once_approved_elsewhere(
    settings: Settings,
) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with Engine.open(settings) as eng, mcp_client(settings, "--agent", "bot") as client:
        call = asyncio.create_task(
            client.call_tool(
                "shell_exec",
                {"command": "git status --short"},
                progress_callback=on_progress,
                meta={"reason": "see what changed"},
            )
        )
        request_id = await wait_for_pending(eng)
        request = await eng.approvals.get(request_id)
        assert request.requester == "agent:bot" and request.reason == "see what changed"
        for _ in range(200):  # progress arrives while it waits (bounded)
            if progress:
                break
            await asyncio.sleep(0.05)
        assert progress and "s left" in (progress[-1][2] or "")
        approved = await eng.approve(request_id, reason="fine")
        result = await asyncio.wait_for(call, 30)
    assert approved.ok
    assert result.is_error is False
    assert result.structured_content["status"] == "ran"
    assert result.structured_content["approved_by"] == "op@test"
    [(runs,)] = await rows(
        settings,
        "SELECT COUNT(*) FROM audit WHERE tool = 'shell_exec' AND action = 'run'"
        " AND status != 'pending_approval'",
    )
    assert runs == 1


async def test_denial_returns_the_operators_reason_and_nothing_runs(settings: Settings) -> None:
    async with Engine.open(settings) as eng, mcp_client(settings, "--agent", "bot") as client:
        call = asyncio.create_task(client.call_tool("shell_exec", {"command": "git status"}))
        request_id = await wait_for_pending(eng)
        await eng.deny(request_id, "not today")
        result = await asyncio.wait_for(call, 30)
    assert result.is_error and result.structured_content["status"] == "denied"
    assert "not today" in result.content[0].text and "nothing ran" in result.content[0].text
    assert not await rows(
        settings,
        "SELECT 1 FROM audit WHERE action = 'run' AND tool = 'shell_exec'"
        " AND status != 'pending_approval'",
    )


async def test_expiry_returns_expired_nothing_ran(settings: Settings) -> None:
    async with Engine.open(settings) as eng, mcp_client(settings, "--agent", "bot") as client:
        call = asyncio.create_task(client.call_tool("shell_exec", {"command": "git status"}))
        request_id = await wait_for_pending(eng)
        async with eng.db.transaction() as tx:  # the clock runs out (both clocks: migration 9)
            await tx.execute(
                "UPDATE approval_requests SET expires_at = 0, created_boot = NULL WHERE id = ?",
                (request_id,),
            )
        result = await asyncio.wait_for(call, 30)
    assert result.is_error and result.structured_content["status"] == "expired"
    assert "expired, nothing ran" in result.content[0].text


async def test_client_cancellation_withdraws_the_request_audited(settings: Settings) -> None:
    async with Engine.open(settings) as eng, mcp_client(settings, "--agent", "bot") as client:
        call = asyncio.create_task(client.call_tool("shell_exec", {"command": "git status"}))
        request_id = await wait_for_pending(eng)
        call.cancel()
        for _ in range(300):
            request = await eng.approvals.get(request_id)
            if request.status != "pending":
                break
            await asyncio.sleep(0.05)
        assert request.status == "denied" and request.decided_by == "agent:bot"
        assert "withdrawn" in (request.decision_reason or "")
        # a withdrawn request can no longer be approved
        import pytest

        from engine.errors import ApprovalError

        with pytest.raises(ApprovalError):
            await eng.approve(request_id)
        still = await client.call_tool("git_status", {})
    assert still.is_error is False
    withdrawn = await rows(settings, "SELECT actor FROM audit WHERE action = 'approval_withdrawn'")
    assert withdrawn == [("agent:bot",)]


async def test_two_clients_at_once_each_with_its_own_session(settings: Settings) -> None:
    async with (
        Engine.open(settings) as eng,
        mcp_client(settings, client_name="alpha") as one,
        mcp_client(settings, client_name="beta") as two,
    ):
        first = asyncio.create_task(one.call_tool("shell_exec", {"command": "git status"}))
        second = await two.call_tool("git_status", {})
        request_id = await wait_for_pending(eng)
        assert (await eng.approvals.get(request_id)).requester == "agent:mcp-alpha"
        await eng.approve(request_id)
        first_result = await asyncio.wait_for(first, 30)
    assert second.is_error is False and first_result.is_error is False
    sessions = await rows(settings, "SELECT agent, client, calls FROM mcp_sessions")
    assert sorted(sessions) == [("agent:mcp-alpha", "alpha", 1), ("agent:mcp-beta", "beta", 1)]


async def test_malformed_json_rpc_is_answered_with_errors_and_the_server_keeps_serving(
    settings: Settings,
) -> None:
    import json

    from tests.mcp_gateway.conftest import serve_params

    params = serve_params(settings, "--agent", "bot")
    proc = await asyncio.create_subprocess_exec(
        params.command,
        *params.args,
        cwd=params.cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
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
    lines = [
        b"this is not json\n",
        b'{"jsonrpc": "2.0", "id": 7, "method": 12}\n',
        (json.dumps(init) + "\n").encode(),
        b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n',
        b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": 5}}\n',
        b'{"jsonrpc": "2.0", "id": 3, "method": "tools/call",'
        b' "params": {"name": "git_status", "arguments": {}}}\n',
    ]
    for line in lines:
        proc.stdin.write(line)
    await proc.stdin.drain()
    answers: dict[int, dict[str, object]] = {}
    try:
        for _ in range(50):  # bounded: a handful of responses are expected
            raw = await asyncio.wait_for(proc.stdout.readline(), 30)
            if not raw:
                break
            message = json.loads(raw)
            if isinstance(message.get("id"), int):
                answers[message["id"]] = message
            if 3 in answers:
                break
    finally:
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 30)
    assert "error" in answers[2]  # a call with a non-string name: a JSON-RPC error
    result = answers[3]["result"]
    assert isinstance(result, dict) and result.get("isError") is False
    [(ran,)] = await rows(settings, "SELECT COUNT(*) FROM audit WHERE action = 'run'")
    assert ran == 1  # only the valid call ran


async def test_a_client_that_goes_away_leaves_its_request_orphaned_and_still_approvable(
    settings: Settings,
) -> None:
    import json

    from tests.mcp_gateway.conftest import serve_params

    params = serve_params(settings, "--agent", "bot")
    proc = await asyncio.create_subprocess_exec(
        params.command,
        *params.args,
        cwd=params.cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None
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
    for message in (init, {"jsonrpc": "2.0", "method": "notifications/initialized"}, call):
        proc.stdin.write((json.dumps(message) + "\n").encode())
    await proc.stdin.drain()
    async with Engine.open(settings) as eng:
        request_id = await wait_for_pending(eng)
        for _ in range(300):  # the wait is registered before the client goes
            if await eng.db.fetchone("SELECT 1 FROM mcp_waits WHERE request_id = ?", (request_id,)):
                break
            await asyncio.sleep(0.05)
        proc.stdin.close()  # the client goes away without cancelling
        await asyncio.wait_for(proc.wait(), 30)
        row = await eng.db.fetchone(
            "SELECT state FROM mcp_waits WHERE request_id = ?", (request_id,)
        )
        assert row is not None and row["state"] == "orphaned"
        assert (await eng.approvals.get(request_id)).status == "pending"
        result = await eng.approve(request_id)
        assert result.ok
        done = await eng.approvals.get(request_id)
        assert done.run_status == "ok" and done.run_audit_id is not None
    [(runs,)] = await rows(
        settings,
        "SELECT COUNT(*) FROM audit WHERE tool = 'shell_exec' AND action = 'run' AND status = 'ok'",
    )
    assert runs == 1


async def test_a_killed_client_leaves_its_request_marked_orphaned_and_approving_runs_it_once(
    settings: Settings,
) -> None:
    """A real client process (the SDK's, launching `daena mcp serve`) is killed with
    SIGKILL while its call waits: the request stays in the inbox, marked orphaned; an
    operator's approval runs it exactly once and its result is kept in the audit log."""
    import json
    import signal
    import sys
    from pathlib import Path

    from engine.mcp_sessions import McpSessions
    from tests.mcp_gateway.conftest import serve_params

    params = serve_params(settings, "--agent", "bot")
    launcher = json.dumps([params.command, params.args, params.cwd, params.env])
    client = Path(__file__).with_name("waiting_client.py")
    call = json.dumps({"command": "git status --short --branch"})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(client),
        launcher,
        "shell_exec",
        call,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=params.cwd,
    )
    async with Engine.open(settings) as eng:
        sessions = McpSessions(eng.db, eng.audit, eng.approvals)
        try:
            request_id = await wait_for_pending(eng)
            for _ in range(300):  # bounded: the server registers the wait
                if await sessions.wait_state(request_id) == "waiting":
                    break
                await asyncio.sleep(0.05)
            assert await sessions.orphaned() == set()
        finally:
            proc.send_signal(signal.SIGKILL)  # no cancellation, no goodbye (and never left)
        assert await asyncio.wait_for(proc.wait(), 30) == -signal.SIGKILL
        for _ in range(400):  # the server sees its stdin close and orphans the wait
            if await sessions.wait_state(request_id) == "orphaned":
                break
            await asyncio.sleep(0.05)
        assert await sessions.orphaned() == {request_id}
        [gone_session] = await sessions.list()  # what `daena mcp sessions` shows
        assert gone_session.ended_at is not None
        assert (gone_session.waiting, gone_session.orphaned) == (0, 1)
        pending = await eng.approvals.get(request_id)
        assert pending.status == "pending" and pending.requester == "agent:bot"
        approved = await eng.approve(request_id, reason="still wanted")
        assert approved.ok, approved.error
        with pytest.raises(ApprovalError):
            await eng.approve(request_id)  # once only
        done = await eng.approvals.get(request_id)
        assert await sessions.orphaned() == set()  # decided: no longer waiting in the inbox
        record = await eng.audit.get(done.run_audit_id or -1)
    assert done.run_status == "ok" and record is not None
    assert "## main" in (record.result_summary or "")  # the result, kept in the audit log
    [(runs,)] = await rows(
        settings,
        "SELECT COUNT(*) FROM audit WHERE tool = 'shell_exec' AND action = 'run'"
        " AND status NOT IN ('pending_approval')",
    )
    gone = await rows(settings, "SELECT kind FROM events WHERE kind = 'McpClientGone'")
    assert runs == 1 and gone == [("McpClientGone",)]


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGKILL"])
async def test_a_stopped_or_killed_server_ends_its_session_and_orphans_the_waiting_request(
    settings: Settings, signum: str
) -> None:
    """`daena mcp serve` stopped with SIGTERM while a call waits: it ends its session before
    exiting. Killed with SIGKILL: the next process that looks (the inbox, `daena mcp
    sessions`) finds it dead on this host and ends the session for it. Either way the
    request is marked orphaned and is still approvable once."""
    import json
    import signal

    sig = signal.Signals[signum]

    from engine.mcp_sessions import McpSessions
    from tests.mcp_gateway.conftest import serve_params

    params = serve_params(settings, "--agent", "bot")
    proc = await asyncio.create_subprocess_exec(
        params.command,
        *params.args,
        cwd=params.cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
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
    for message in (init, {"jsonrpc": "2.0", "method": "notifications/initialized"}, call):
        proc.stdin.write((json.dumps(message) + "\n").encode())
    await proc.stdin.drain()
    try:
        async with Engine.open(settings) as eng:
            sessions = McpSessions(eng.db, eng.audit, eng.approvals)
            request_id = await wait_for_pending(eng)
            for _ in range(300):
                if await sessions.wait_state(request_id) == "waiting":
                    break
                await asyncio.sleep(0.05)
            proc.send_signal(sig)  # stdin stays open: the signal alone ends it
            code = await asyncio.wait_for(proc.wait(), 30)
            err = (await proc.stderr.read()).decode()
            assert (await sessions.waits())[request_id].state == "orphaned"  # the inbox's view
            [session] = await sessions.list()
            assert await sessions.wait_state(request_id) == "orphaned"
            assert session.ended_at is not None and session.orphaned == 1
            assert (await eng.approve(request_id)).ok
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == (128 + sig if sig is signal.SIGTERM else -sig) and "Traceback" not in err


async def test_a_server_killed_the_moment_it_answers_has_already_recorded_the_run(
    settings: Settings,
) -> None:
    """The outcome record is committed (fsync'd) before the answer is written: a `daena mcp
    serve` SIGKILLed as soon as its answer is read leaves the run's record, with the result
    the client was given (docs/mcp.md, "Overhead")."""
    import json
    import signal

    from tests.mcp_gateway.conftest import serve_params

    params = serve_params(settings, "--agent", "bot")
    proc = await asyncio.create_subprocess_exec(
        params.command,
        *params.args,
        cwd=params.cwd,
        env=params.env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
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
    for message in (init, {"jsonrpc": "2.0", "method": "notifications/initialized"}, call):
        proc.stdin.write((json.dumps(message) + "\n").encode())
    await proc.stdin.drain()
    answer: dict[str, object] = {}
    try:
        for _ in range(50):  # bounded: the initialize answer, then the call's
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            message = json.loads(line)
            if message.get("id") == 2:
                proc.send_signal(signal.SIGKILL)  # at once: no time to write anything more
                answer = message
                break
        assert await asyncio.wait_for(proc.wait(), 30) == -signal.SIGKILL
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    result = answer["result"]
    assert isinstance(result, dict) and result["isError"] is False
    structured = result["structuredContent"]
    async with Engine.open(settings) as eng:
        [record] = await eng.audit.of_run(trace_id=structured["trace_id"])
    assert (record.action, record.status, record.actor) == ("run", "ok", "agent:bot")
    assert json.loads(record.result_summary or "{}") == structured["result"]
