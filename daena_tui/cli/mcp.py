"""`daena mcp`: Daena as an MCP server, and the upstream MCP servers behind its gate.

    daena mcp serve [--agent NAME]            # stdio, as an MCP client launches it
    daena mcp serve --http [--host H --port N]  # streamable HTTP, agent token required
    daena mcp add NAME -- COMMAND ARGS...     # an upstream over stdio
    daena mcp add NAME --url URL [--header K=V]
    daena mcp list | remove NAME | tools [NAME] | refresh NAME
    daena mcp enable SERVER.tool [--risk low|medium|high]   # pins the definition
    daena mcp disable SERVER.tool
    daena mcp sessions                        # MCP clients seen, calls, waiting requests

Upstream tools are disabled until enabled; enabling pins the name, description and input
schema (docs/mcp.md). Their descriptions are untrusted text and shown inert.
"""

from __future__ import annotations

import argparse
from typing import Any

from daena_tui.cli.output import table, when
from daena_tui.cli.session import Cli
from engine.errors import InputError
from engine.safety.display import one_line
from engine.tools.spec import Risk


def register(sub: Any) -> None:
    p = sub.add_parser("mcp", help="MCP gateway: serve our tools, plug upstream servers in")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve the enabled tools over MCP (stdio or --http)")
    serve.add_argument("--agent", help="the agent name calls are made as (stdio)")
    serve.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.set_defaults(handler=serve_mcp)
    add = actions.add_parser("add", help="add an upstream server: NAME -- COMMAND ARGS or --url")
    add.add_argument("name")
    add.add_argument("--url", help="a streamable HTTP endpoint")
    add.add_argument("--header", action="append", default=[], metavar="K=V")
    add.add_argument("command", nargs="*", help="after --: the server's argv")
    add.set_defaults(handler=add_server)
    actions.add_parser("list", help="upstream servers").set_defaults(handler=list_servers)
    remove = actions.add_parser("remove", help="remove an upstream server and its tools")
    remove.add_argument("name")
    remove.set_defaults(handler=remove_server)
    tools = actions.add_parser("tools", help="upstream tools, their risk and pinning state")
    tools.add_argument("name", nargs="?")
    tools.set_defaults(handler=list_tools)
    refresh = actions.add_parser("refresh", help="list a server's tools again")
    refresh.add_argument("name")
    refresh.set_defaults(handler=refresh_server)
    enable = actions.add_parser("enable", help="pin an upstream tool's definition and enable it")
    enable.add_argument("tool", help="SERVER.tool")
    enable.add_argument("--risk", choices=[r.value for r in Risk])
    enable.set_defaults(handler=enable_tool)
    disable = actions.add_parser("disable", help="disable an upstream tool")
    disable.add_argument("tool")
    disable.set_defaults(handler=disable_tool)
    actions.add_parser("sessions", help="MCP clients and their calls").set_defaults(
        handler=list_sessions
    )


async def serve_mcp(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    if args.http:
        from daena_tui.mcp.http import serve_http

        await serve_http(eng, host=args.host, port=args.port)
        return 0
    from daena_tui.mcp.server import serve_stdio

    await serve_stdio(eng, agent=args.agent)
    return 0


def _headers(pairs: list[str]) -> dict[str, str]:
    headers = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--header: {pair!r} must be KEY=VALUE")
        headers[key.strip()] = value
    return headers


async def add_server(args: argparse.Namespace, cli: Cli) -> int:
    from engine.upstream.connection import Endpoint

    command = [c for c in args.command if c != "--"] if args.command else []
    if args.url and command:
        raise InputError("server: give either a command (after --) or --url, not both")
    endpoint = Endpoint(tuple(command), args.url, _headers(args.header))
    eng = await cli.engine()
    found = await eng.upstream.add(args.name, endpoint, eng.operator)
    cli.emit(
        {"server": args.name, "tools": [t.to_dict() for t in found]},
        f"added {args.name}: {len(found)} tools, all disabled "
        f"(see 'daena mcp tools {args.name}', enable with 'daena mcp enable {args.name}.TOOL')",
    )
    return 0


async def list_servers(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    servers = await eng.upstream.store.servers()
    tools = await eng.upstream.store.tools()
    rows = []
    data = []
    for s in servers:
        count = sum(1 for t in tools if t.server == s.name)
        rows.append(
            [
                s.name,
                "http" if s.endpoint.url else "stdio",
                s.endpoint.describe(),
                count,
                s.state or "never started",
                s.restarts,
                "".join(p.text for p in one_line(s.last_error or "", 60)),
            ]
        )
        data.append(
            {
                "name": s.name,
                "command": list(s.endpoint.command),
                "url": s.endpoint.url,
                "headers": sorted(s.endpoint.headers),
                "tools": count,
                "added": when(s.created_at),
                "state": s.state,
                "state_at": when(s.state_at) if s.state_at else None,
                "restarts": s.restarts,
                "last_error": s.last_error,
            }
        )
    headers = ["name", "transport", "endpoint", "tools", "state", "restarts", "last error"]
    cli.emit(data, table(rows, headers) if rows else "none")
    return 0


async def remove_server(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    await eng.upstream.remove(args.name, eng.operator)
    cli.emit({"removed": args.name}, f"removed {args.name}")
    return 0


async def list_tools(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    if args.name:
        await eng.upstream.store.server(args.name)
    tools = await eng.upstream.store.tools(args.name)
    config = await eng.config()
    rows = [
        [
            t.name,
            str(t.risk),
            "on" if config.enabled(t.name, False) else "off",
            t.pin_state,
            "".join(p.text for p in one_line(t.definition.description, 60)),
        ]
        for t in tools
    ]
    data = [{**t.to_dict(), "enabled": config.enabled(t.name, False)} for t in tools]
    cli.emit(
        data, table(rows, ["tool", "risk", "enabled", "pin", "description"]) if rows else "none"
    )
    return 0


async def refresh_server(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    changed = await eng.upstream.refresh(args.name)
    text = (
        f"{args.name}: definitions changed and disabled: {', '.join(changed)}"
        if changed
        else f"{args.name}: refreshed, no pinned definition changed"
    )
    cli.emit({"server": args.name, "changed": changed}, text)
    return 0


async def enable_tool(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    risk = Risk(args.risk) if args.risk else None
    tool = await eng.upstream.enable(args.tool, risk, eng.operator)
    cli.emit(
        tool.to_dict(),
        f"enabled {tool.name} (risk {tool.risk}, pinned {str(tool.pinned_hash)[:12]})",
    )
    return 0


async def disable_tool(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    await eng.upstream.store.tool(args.tool)
    await eng.set_tool_enabled(args.tool, False)
    cli.emit({"disabled": args.tool}, f"disabled {args.tool}")
    return 0


async def list_sessions(args: argparse.Namespace, cli: Cli) -> int:
    from engine.mcp_sessions import McpSessions

    eng = await cli.engine()
    sessions = await McpSessions(eng.db, eng.audit, eng.approvals).list()
    rows = [
        [
            s.id,
            s.agent,
            s.client,
            s.transport,
            when(s.started_at),
            s.calls,
            s.waiting,
            s.orphaned,
            "ended" if s.ended_at else "live",
        ]
        for s in sessions
    ]
    header = ["session", "agent", "client", "transport", "since", "calls", "waiting"]
    cli.emit(
        [s.to_dict() for s in sessions],
        table(rows, [*header, "orphaned", "state"]) if rows else "none",
    )
    return 0
