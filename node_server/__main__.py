"""`python -m node_server` / `daena-node`: start the node server.

Refuses to start (one line on stderr, exit code 2, no traceback) when the settings are
invalid or when it would listen on a non-loopback address without a token.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from engine.errors import ConfigError
from engine.safety.hosts import is_loopback, normalise_host
from node_server import __version__
from node_server.settings import NodeSettings, load_node_settings

EXIT_USAGE = 2


def startup_problem(settings: NodeSettings) -> str | None:
    """Why the node must not start with these settings, or None."""
    if settings.token is None and not is_loopback(settings.host):
        return (
            f"refusing to listen on {settings.host} without a token: set WINDOWS_NODE_TOKEN "
            "(the engine must use the same value) or bind to 127.0.0.1"
        )
    return None


def _fail(message: str) -> int:
    print(f"daena-node: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(settings: NodeSettings) -> int:
    """Serve until interrupted; return the process exit code."""
    problem = startup_problem(settings)
    if problem is not None:
        return _fail(problem)
    import uvicorn  # imported late: `--help` and refusals stay fast

    from node_server.app import create_app

    app = create_app(settings)
    print(
        f"daena-node {__version__}: serving {settings.workspace_root} on "
        f"http://{settings.host}:{settings.port} "
        f"(token {'required' if settings.token else 'not set: loopback only'})",
        file=sys.stderr,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=False,  # never trust X-Forwarded-* from whoever connects
        server_header=False,
        log_level="info",
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="daena-node",
        description="Daena node: run safe tools in a workspace for a Daena engine (HTTP).",
        epilog="Environment: WINDOWS_NODE_TOKEN, EXECUTION_WORKSPACE_ROOT, NODE_SHELL_ALLOWLIST, "
        "NODE_ALLOWED_HOSTS, NODE_MAX_BODY_BYTES, NODE_HOST, NODE_PORT (also read from .env).",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 18888)")
    parser.add_argument(
        "--workspace", help="workspace root (default EXECUTION_WORKSPACE_ROOT or cwd)"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        dest="allowed_hosts",
        metavar="NAME",
        help="extra Host name this node answers to (repeatable), e.g. its LAN address",
    )
    parser.add_argument("--env-file", default=".env", help="dotenv file to read (default .env)")
    parser.add_argument("--version", action="version", version=f"daena-node {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.workspace is not None:
        overrides["workspace_root"] = args.workspace
    try:
        settings = load_node_settings(env_file=args.env_file or None, **overrides)
    except ConfigError as err:  # worded as `daena` words it: "Configuration error: ..."
        return _fail(f"{err.title}: {err.message}")
    if args.allowed_hosts:
        extra = [normalise_host(name) for name in args.allowed_hosts if name.strip()]
        settings = settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, *extra]})
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
