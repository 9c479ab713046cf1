"""The MCP server: our catalogue's enabled tools, each call as `eng.as_agent(name)`.

Identity. Over HTTP the agent is the one its token names (`daena agents token create`).
Over stdio the process was started by a client the operator configured: the agent is
`--agent NAME`, or else a name made from the client's `initialize` clientInfo
(`mcp-<client>`). Either way the session can only run, request and read its own: it
never decides (engine/agents.py).

A call that needs approval waits in the inbox: progress notifications tell the client the
time left; the operator's decision (from any process, through the shared database) ends
the wait. A client's `notifications/cancelled` withdraws the request; a client that goes
away leaves it orphaned (still approvable, run exactly once by the approver).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from daena_tui import __version__
from daena_tui.mcp.results import from_outcome, from_run
from engine import Engine
from engine.approvals import ApprovalRequest
from engine.credentials import check_name
from engine.errors import EngineError, PolicyError
from engine.mcp_sessions import HEARTBEAT_SEC, McpSessions
from engine.statuses import RunStatus
from engine.tools.spec import Risk

REASON_META_KEYS = ("reason", "daena/reason")


def agent_name_for(client: str) -> str:
    """`mcp-<client>` from a clientInfo name, reduced to the characters a name may hold."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", client).strip("-.")[:40] or "client"
    return check_name(f"mcp-{slug}")


def annotations_for(risk: Risk, tags: tuple[str, ...], name: str) -> types.ToolAnnotations:
    open_world = "node" in tags or "mcp" in tags or name.startswith("web")
    return types.ToolAnnotations(
        read_only_hint=risk is Risk.LOW,
        destructive_hint=risk is Risk.HIGH,
        open_world_hint=open_world,
    )


@dataclass
class _Client:
    session_id: str
    agent: str


class Gateway:
    """One MCP server over one engine; several client connections at once."""

    def __init__(
        self,
        eng: Engine,
        *,
        transport: str,
        agent: str | None = None,
        progress_every: float = 1.0,
    ) -> None:
        self.eng = eng
        self.transport = transport
        self.agent = check_name(agent) if agent else None
        self.progress_every = progress_every
        self.sessions = McpSessions(eng.db, eng.audit, eng.approvals)
        self._clients: weakref.WeakKeyDictionary[Any, _Client] = weakref.WeakKeyDictionary()
        self._open: list[str] = []
        self._lock = asyncio.Lock()

    def build(self) -> Server[Any]:
        return Server(
            "daena",
            version=__version__,
            instructions=(
                "Daena supervises these tools: a risky call waits for an operator's approval "
                "(progress shows the time left). Say why in the call's _meta.reason."
            ),
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )

    async def keep_alive(self) -> None:
        """Renew the open sessions' heartbeat until cancelled: a process on another host
        sees this server as dead (and orphans its waits) once it stops (engine/mcp_sessions.py)."""
        while True:
            await anyio.sleep(HEARTBEAT_SEC)
            with contextlib.suppress(EngineError):  # the database away: renew when it is back
                await self.sessions.heartbeat()

    async def close(self) -> None:
        for session_id in self._open:
            await self.sessions.close(session_id)
        self._open.clear()

    async def _client(self, ctx: ServerRequestContext[Any], agent: str | None = None) -> _Client:
        key = getattr(ctx.session, "_connection", ctx.session)
        async with self._lock:
            known = self._clients.get(key)
            if known is not None:
                if agent is not None and agent != known.agent:
                    raise PolicyError(f"auth: this MCP session belongs to agent:{known.agent}")
                return known
            params = ctx.session.client_params
            client = params.client_info.name if params and params.client_info else "unknown"
            name = agent or self.agent or agent_name_for(client)
            session_id = await self.sessions.open(f"agent:{name}", client, self.transport)
            self._open.append(session_id)
            made = _Client(session_id, name)
            self._clients[key] = made
            return made

    def agent_for(self, ctx: ServerRequestContext[Any]) -> str | None:
        """The agent a transport authenticated for this request (HTTP); None over stdio."""
        return None

    def connection_gone(self, ctx: ServerRequestContext[Any]) -> Callable[[], bool]:
        """Whether this call's own connection dropped while the session lives on. Over
        stdio the connection is the session: its end cancels the call instead."""
        return lambda: False

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await self._client(ctx, self.agent_for(ctx))
        tools = []
        for info in await self.eng.list_tools():
            if not info.enabled:
                continue
            spec = self.eng.registry.get(info.name)
            tools.append(
                types.Tool(
                    name=info.name,
                    description=info.description,
                    input_schema=info.schema,
                    annotations=annotations_for(info.risk, spec.tags, info.name),
                )
            )
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        client = await self._client(ctx, self.agent_for(ctx))
        await self.sessions.touch(client.session_id)
        args = dict(params.arguments or {})
        reason = self._reason(params, args)
        agent = self.eng.as_agent(client.agent)
        try:
            run = await agent.run(params.name, args, reason=reason)
        except EngineError as err:  # storage trouble: an error result, never a crash
            return from_run_error(params.name, err)
        if run.status is not RunStatus.PENDING_APPROVAL or run.approval_request_id is None:
            return from_run(run)
        return await self._wait(ctx, client, run.approval_request_id)

    def _reason(self, params: types.CallToolRequestParams, args: dict[str, Any]) -> str:
        """`_meta.reason`; or a top-level `reason` argument when the tool has none itself."""
        meta = dict(params.meta or {})
        for key in REASON_META_KEYS:
            if isinstance(meta.get(key), str):
                return str(meta[key])[:2000]
        if "reason" in args and params.name in self.eng.registry:
            schema = self.eng.registry.get(params.name).json_schema()
            if "reason" not in (schema.get("properties") or {}) and isinstance(args["reason"], str):
                return str(args.pop("reason"))[:2000]
        return ""

    async def _wait(
        self, ctx: ServerRequestContext[Any], client: _Client, request_id: str
    ) -> types.CallToolResult:
        identity = f"agent:{client.agent}"

        async def progress(request: ApprovalRequest) -> None:
            total = max(1.0, request.expires_at - request.created_at)
            left = request.seconds_left()
            await ctx.session.report_progress(
                total - left,
                total,
                f"waiting for an operator to decide request {request.id}: {left:.0f} s left",
            )

        try:
            outcome = await self.sessions.wait_for_outcome(
                request_id,
                client.session_id,
                progress,
                progress_every=self.progress_every,
                gone=self.connection_gone(ctx),
            )
        except BaseException:
            cancelled = _cancel_requested(ctx)
            with anyio.CancelScope(shield=True):
                if cancelled:
                    await self.sessions.withdraw(
                        request_id, identity, "the MCP client cancelled the call"
                    )
                else:
                    await self.sessions.close(client.session_id)
            raise
        if outcome is None:  # nobody to hear it: the request waits in the inbox, orphaned
            text = f"the connection dropped; request {request_id} waits in the inbox, orphaned"
            return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)
        return from_outcome(outcome)


def _cancel_requested(ctx: ServerRequestContext[Any]) -> bool:
    """Whether the client sent `notifications/cancelled` for this call (as opposed to going
    away). The SDK keeps the flag on the request's dispatch context."""
    outbound = getattr(ctx.session, "_request_outbound", None)
    event = getattr(outbound, "cancel_requested", None)
    return bool(event is not None and event.is_set())


def from_run_error(tool: str, err: EngineError) -> types.CallToolResult:
    text = f"error: {err.message}"
    return types.CallToolResult(
        content=[types.TextContent(text=text)],
        structured_content={"status": "error", "tool": tool, "error": err.message},
        is_error=True,
    )


async def serve_stdio(eng: Engine, *, agent: str | None, progress_every: float = 1.0) -> None:
    from mcp.server.stdio import stdio_server

    gateway = Gateway(eng, transport="stdio", agent=agent, progress_every=progress_every)
    server = gateway.build()
    try:
        async with stdio_server() as (read, write), anyio.create_task_group() as tasks:
            tasks.start_soon(_end_on_signal, gateway)
            tasks.start_soon(gateway.keep_alive)
            await server.run(read, write, server.create_initialization_options())
            tasks.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await gateway.close()


async def _end_on_signal(gateway: Gateway) -> None:
    """SIGTERM, SIGHUP or SIGINT (a client stopping its server, the operator): end the
    sessions properly first, so their waiting requests are marked orphaned, then exit. A
    signal's default action would leave them marked waiting; and an orderly return cannot
    be had, since the SDK reads stdin in a thread that only a line or EOF wakes."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP, signal.SIGINT) as signals:
        async for signum in signals:
            with anyio.CancelScope(shield=True):
                await gateway.close()
            os._exit(128 + signum)
