"""`daena`: the console with no subcommand, otherwise the command line (SPEC §10)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from daena_tui import (
    __version__,
    cli_approvals,
    cli_config,
    cli_logs,
    cli_nodes,
    cli_serve,
    cli_tasks,
    cli_tools,
)
from daena_tui.cli_support import EXIT_USAGE, Cli, Handler, exit_code_for, fail
from engine import EngineError, Settings, load_settings

COMMAND_MODULES: list[ModuleType] = [
    cli_tools,
    cli_approvals,
    cli_tasks,
    cli_logs,
    cli_nodes,
    cli_config,
    cli_serve,
]


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line, exit 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"daena: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="daena",
        description="Supervise an AI agent's tools: approvals, audit log, policy, nodes. "
        "With no command, opens the console.",
    )
    parser.add_argument("--version", action="version", version=f"daena {__version__}")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--db", metavar="PATH", help="database file (DAENA_DB_PATH)")
    parser.add_argument(
        "--workspace", metavar="DIR", help="workspace root (EXECUTION_WORKSPACE_ROOT)"
    )
    parser.add_argument(
        "--env-file", metavar="PATH", default=".env", help="dotenv file (default .env)"
    )
    parser.add_argument("--operator", help="name recorded on decisions (DAENA_OPERATOR)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.db:
        overrides["daena_db_path"] = Path(args.db)
    if args.workspace:
        overrides["execution_workspace_root"] = Path(args.workspace)
    if args.operator:
        overrides["daena_operator"] = args.operator
    env_file = args.env_file if args.env_file and Path(args.env_file).is_file() else None
    return load_settings(env_file=env_file, **overrides)


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    cli = Cli(settings, json_output=args.json)
    handler: Handler = args.handler
    try:
        return await handler(args, cli)
    finally:
        await cli.close()


def open_console(settings: Settings) -> int:
    try:
        from daena_tui.app import run_console
    except ImportError as err:
        return fail(f"the console is not available in this build ({err})", 1)
    return run_console(settings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args)
        if args.command is None:
            return open_console(settings)
        return asyncio.run(_dispatch(args, settings))
    except EngineError as err:
        return fail(f"{err.title}: {err.message}", exit_code_for(err))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def entry() -> None:
    sys.exit(main())
