"""`daena`: the console with no subcommand, otherwise the command line (SPEC §10)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from daena_tui import __version__
from daena_tui.cli_support import EXIT_USAGE, Cli, Handler, exit_code_for, fail
from engine import EngineError

if TYPE_CHECKING:
    from engine import Settings

# Imported only when a subcommand is given: `daena` alone opens the console without them.
COMMAND_MODULE_NAMES = [
    "daena_tui.cli_tools",
    "daena_tui.cli_approvals",
    "daena_tui.cli_tasks",
    "daena_tui.cli_logs",
    "daena_tui.cli_nodes",
    "daena_tui.cli_config",
    "daena_tui.cli_serve",
    "daena_tui.cli_agents",
    "daena_tui.cli_mcp",
]
HELP_FLAGS = frozenset({"-h", "--help"})


def command_modules() -> list[ModuleType]:
    return [import_module(name) for name in COMMAND_MODULE_NAMES]


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line, exit 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"daena: {message} (see '{self.prog} --help')\n")


def build_parser(*, with_commands: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="daena",
        add_help=with_commands,
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
        "--env-file",
        metavar="PATH",
        help="dotenv file (default: .env when it exists; a given file must exist; '' for none)",
    )
    parser.add_argument("--operator", help="name recorded on decisions (DAENA_OPERATOR)")
    if with_commands:
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
        for module in command_modules():
            module.register(sub)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    from engine import load_settings  # pydantic-settings loads only when settings are needed

    overrides: dict[str, Any] = {}
    if args.db:
        overrides["daena_db_path"] = Path(args.db)
    if args.workspace:
        overrides["execution_workspace_root"] = Path(args.workspace)
    if args.operator:
        overrides["daena_operator"] = args.operator
    return load_settings(env_file=env_file_from(args), **overrides)


def env_file_from(args: argparse.Namespace) -> Path | None:
    """`--env-file` must name a file ('' for none); without it `.env` is read when there
    is one."""
    from engine import ConfigError

    if args.env_file == "":
        return None
    if args.env_file is None:
        default = Path(".env")
        return default if default.is_file() else None
    path = Path(args.env_file).expanduser()
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(f"--env-file: {args.env_file} {what}")
    return path


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    cli = Cli(settings, json_output=args.json)
    handler: Handler = args.handler
    try:
        return await handler(args, cli)
    finally:
        await cli.close()


def open_console(args: argparse.Namespace) -> int:
    """The console loads the settings itself, after its first frame is on screen."""
    from daena_tui.app import run_console

    return run_console(lambda: settings_from(args))


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Global options only when there is no subcommand (the console starts faster)."""
    if not HELP_FLAGS & set(argv):
        known, rest = build_parser(with_commands=False).parse_known_args(argv)
        if not rest:
            known.command = None
            return known
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command is None:
            env_file_from(args)  # a wrong --env-file is said here, not inside the console
            return open_console(args)
        return asyncio.run(_dispatch(args, settings_from(args)))
    except EngineError as err:
        return fail(f"{err.title}: {err.message}", exit_code_for(err))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # a bug: one line for the operator, details on request
        if os.environ.get("DAENA_DEBUG"):
            raise
        return fail(f"internal error: {type(err).__name__}: {err} (DAENA_DEBUG=1 shows details)", 1)


def entry() -> None:
    sys.exit(main())
