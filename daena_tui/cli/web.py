"""`daena web`: the console in a browser, read-only, behind a token (README, "Observer").

A remote colleague watches the inbox, the logs and the tasks without approval rights: each
browser connection gets its own `daena --observer` process, whose engine refuses every
change (engine/observer.py). The token is printed at start, or read from `--token-file`.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from daena_tui.cli.output import EXIT_USAGE, fail
from daena_tui.cli.session import Cli


def register(sub: Any) -> None:
    p = sub.add_parser("web", help="serve a read-only console (observer) to a browser")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (8765)")
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use when a proxy stands in front (https://host[:port])",
    )
    p.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the access token from this file (else a new one is printed)",
    )
    p.set_defaults(handler=serve_web)


def read_token(path: str | None) -> str:
    """The token from `path` (stripped), or a new random one. Raises ValueError naming
    the rule."""
    from daena_tui.cli.web_server import MIN_TOKEN_LENGTH

    if path is None:
        return secrets.token_urlsafe(24)
    try:
        token = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"--token-file: cannot read {path} ({err.__class__.__name__})") from err
    if len(token) < MIN_TOKEN_LENGTH or not token.isprintable() or any(c in token for c in "/ ?#%"):
        raise ValueError(
            f"--token-file: the token must be at least {MIN_TOKEN_LENGTH} printable characters "
            "with no space, '/', '?', '#' or '%'"
        )
    return token


def check_public_url(url: str | None) -> str | None:
    """`url` as the page will use it, or None. Raises ValueError naming the rule: an http or
    https origin, nothing after the host and port."""
    if url is None:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError as err:
        raise ValueError(f"--public-url: {err}") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("--public-url: must be http:// or https:// and name a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError("--public-url: only scheme, host and port (no path, query or user)")
    return f"{parts.scheme}://{parts.netloc}"


def observer_command(args: argparse.Namespace, cli: Cli) -> str:
    """The console each browser connection runs: this Python, `--observer`, and the same
    database, workspace and env file as this command."""
    settings = cli.settings
    argv = [sys.executable, "-m", "daena_tui", "--observer"]
    argv += ["--db", str(settings.daena_db_path)]
    argv += ["--workspace", str(settings.execution_workspace_root)]
    if args.env_file is not None:
        argv += ["--env-file", args.env_file]
    return shlex.join(argv)


async def serve_web(args: argparse.Namespace, cli: Cli) -> int:
    if not 0 < args.port < 65536:
        return fail(f"web: --port {args.port} is not between 1 and 65535", EXIT_USAGE)
    try:
        token = read_token(args.token_file)
        public_url = check_public_url(args.public_url)
    except ValueError as err:
        return fail(f"web: {err}", EXIT_USAGE)
    await cli.engine()  # a wrong database is said here, once, not in every browser tab
    from daena_tui.cli.web_server import TokenServer, run

    server = TokenServer(
        observer_command(args, cli),
        token,
        public_url=public_url,
        host=args.host,
        port=args.port,
        title="Daena (observer)",
    )
    shown = "(from --token-file)" if args.token_file else token
    address = public_url or f"http://{args.host}:{args.port}"
    cli.line(f"daena web: read-only observer on {address}/?token={shown}")
    try:
        await run(server, args.host, args.port)
    except OSError as err:
        return fail(f"web: cannot listen on {args.host}:{args.port} ({err.strerror})", 1)
    return 0
