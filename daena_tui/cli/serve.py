"""`daena serve`: the HTTP API (`/api/v1/execution/*`, README "HTTP API") over the same engine and
database as the console and the CLI.

Binds 127.0.0.1:8000 by default. Every request needs `X-Execution-Token`: the operator token
(EXECUTION_TOKEN) may do everything; an agent token (`daena agents token create NAME`) may
only run tools, ask for approvals and read its own requests and results. Without
EXECUTION_TOKEN only agent tokens are accepted, unless `--insecure-local` is given, which
is only accepted on a loopback address.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

import engine
from daena_tui.cli.output import EXIT_TOOL_ERROR, EXIT_USAGE, fail
from daena_tui.cli.serve_workers import Supervisor, WorkerSpec, workers_count
from daena_tui.cli.session import Cli

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def port_number(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 0 and 65535")
    return port


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="the HTTP API (/api/v1/execution/*) over the same engine and database",
        description="Serve the execution API. Every request needs the X-Execution-Token "
        "header: the operator token (EXECUTION_TOKEN) or an agent token (daena agents token "
        "create NAME), which may only run tools, ask for approvals and read its own requests "
        "and results. There is no CORS.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=port_number, default=DEFAULT_PORT, help="default 8000")
    p.add_argument(
        "--insecure-local",
        action="store_true",
        help="accept requests without a token while EXECUTION_TOKEN is unset (loopback only)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another name clients use in the Host header (e.g. this machine's LAN name)",
    )
    p.add_argument(
        "--workers",
        type=workers_count,
        default=1,
        metavar="N",
        help="server processes on the one socket and database (default 1; at most 64); "
        "one audit chain and single-use grants hold across them",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level (default info)",
    )
    p.set_defaults(handler=serve)


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound socket for `host:port` (IPv4 or IPv6), or OSError."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(args: argparse.Namespace, cli: Cli) -> int:
    # FastAPI, uvicorn and the API (~1 s of imports) only for `serve` itself: `daena --help`
    # and every other command register this module too.
    import uvicorn

    from daena_tui.api import API_PREFIX, create_api
    from daena_tui.api.auth import is_loopback

    host: str = args.host
    if args.insecure_local and not is_loopback(host):
        return fail(
            f"--insecure-local is only allowed on a loopback address (127.0.0.1, ::1, "
            f"localhost), not {host!r}; set EXECUTION_TOKEN instead",
            EXIT_USAGE,
        )
    token_set = cli.settings.execution_token is not None
    if not token_set and not args.insecure_local:
        sys.stderr.write(
            "daena: EXECUTION_TOKEN is not set: only agent tokens are accepted, every other "
            "request is refused (401); set it, or use --insecure-local on a loopback address\n"
        )
    try:
        sock = bind_socket(host, args.port)
    except OSError as err:
        return fail(f"cannot listen on {host}:{args.port}: {err.strerror or err}", EXIT_TOOL_ERROR)
    try:
        port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}"
        mode = "token required" if token_set else "NO TOKEN (insecure-local)"
        if not token_set and not args.insecure_local:
            mode = "no EXECUTION_TOKEN: agent tokens only"
        if args.workers > 1:
            return await _serve_workers(args, cli, sock, url, mode)
        eng = await cli.engine(index_audit=True)  # a long-lived process drains the backlog
        app = create_api(
            eng, insecure_local=args.insecure_local, bind_host=host, allowed_hosts=args.allow_host
        )
        config = uvicorn.Config(
            app,
            log_level=args.log_level,
            lifespan="on",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        server = uvicorn.Server(config)
        # The agent reaches tools through this API: its own address is never scrapeable.
        engine.refuse_own_service(url, db_path=eng.settings.daena_db_path)
        cli.line(f"daena API on {url}{API_PREFIX} ({mode}); Ctrl+C stops it")
        await server.serve(sockets=[sock])
    finally:
        sock.close()
    return 0


async def _serve_workers(
    args: argparse.Namespace, cli: Cli, sock: socket.socket, url: str, mode: str
) -> int:
    """`--workers N` (see `serve_workers`): the engine is opened once here first, so the
    migrations and start-up checks run once and a bad database is said before any worker
    starts; then the workers open their own."""
    from daena_tui.api import API_PREFIX

    await cli.engine()
    await cli.close()
    sock.listen(2048)  # connections wait in the backlog until a worker accepts them
    spec = WorkerSpec(
        settings=cli.settings,
        insecure_local=args.insecure_local,
        host=args.host,
        url=url,
        allowed_hosts=list(args.allow_host),
        log_level=args.log_level,
    )
    supervisor = Supervisor(spec, sock, args.workers)
    return await supervisor.run(
        lambda: cli.line(
            f"daena API on {url}{API_PREFIX} ({mode}, {args.workers} workers); Ctrl+C stops it"
        )
    )
