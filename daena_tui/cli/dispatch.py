"""`daena`: the console with no subcommand, otherwise the command line (README)."""

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

from daena_tui import __version__, startup
from daena_tui.cli.output import EXIT_USAGE, fail
from daena_tui.cli.session import Cli, Handler, StartupProblem, exit_code_for
from engine import EngineError

if TYPE_CHECKING:
    from engine import Settings
    from engine.tools.preview import PreviewTool

# Imported only when a subcommand is given: `daena` alone opens the console without them.
COMMAND_MODULE_NAMES = [
    "daena_tui.cli.tools",
    "daena_tui.cli.approvals",
    "daena_tui.cli.tasks",
    "daena_tui.cli.logs",
    "daena_tui.cli.nodes",
    "daena_tui.cli.config",
    "daena_tui.cli.serve",
    "daena_tui.cli.agents",
    "daena_tui.cli.mcp",
    "daena_tui.cli.db",
    "daena_tui.cli.explain",
    "daena_tui.cli.timeline",
    "daena_tui.cli.web",
]
# Which module registers each command, so `daena approvals list` imports only its own
# module (not FastAPI and uvicorn for `serve`). A command missing here imports them all.
COMMAND_MODULES = {
    "tools": "daena_tui.cli.tools",
    "run": "daena_tui.cli.tools",
    "approvals": "daena_tui.cli.approvals",
    "tasks": "daena_tui.cli.tasks",
    "logs": "daena_tui.cli.logs",
    "audit": "daena_tui.cli.logs",
    "nodes": "daena_tui.cli.nodes",
    "config": "daena_tui.cli.config",
    "doctor": "daena_tui.cli.config",
    "serve": "daena_tui.cli.serve",
    "agents": "daena_tui.cli.agents",
    "mcp": "daena_tui.cli.mcp",
    "explain": "daena_tui.cli.explain",
    "timeline": "daena_tui.cli.timeline",
    "web": "daena_tui.cli.web",
    "db": "daena_tui.cli.db",
}


def command_modules(command: str | None = None) -> list[ModuleType]:
    """The modules registering `command` (all of them for help or an unknown command)."""
    names = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULE_NAMES
    return [import_module(name) for name in names]


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line, exit 2."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"daena: {message} (see '{self.prog} --help')\n")


class _CommandParser(_Parser):
    """A subcommand's parser: also takes the global options, after the subcommand
    (`daena tools list --json`), as git, kubectl and docker do. Their default is
    "not given", so they never undo one given before the subcommand. A subcommand that
    defines an option of the same name itself replaces this one ("resolve")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["conflict_handler"] = "resolve"
        super().__init__(*args, **kwargs)
        add_global_options(self, default=argparse.SUPPRESS)


def add_global_options(parser: argparse.ArgumentParser, *, default: Any = None) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if default is None else default,
        help="machine-readable output",
    )
    parser.add_argument(
        "--db", metavar="PATH", default=default, help="database file (DAENA_DB_PATH)"
    )
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        default=default,
        help="workspace root (EXECUTION_WORKSPACE_ROOT)",
    )
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        default=default,
        help="dotenv file (default: .env when it exists; a given file must exist; '' for none)",
    )
    parser.add_argument(
        "--operator", default=default, help="name recorded on decisions (DAENA_OPERATOR)"
    )


def build_parser(
    *, with_commands: bool = True, command: str | None = None
) -> argparse.ArgumentParser:
    """The parser; with `command`, only the module registering it is imported."""
    parser = _Parser(
        prog="daena",
        add_help=with_commands,
        allow_abbrev=with_commands,
        description="Supervise an AI agent's tools: approvals, audit log, policy, nodes. "
        "With no command, opens the console.",
    )
    parser.add_argument("--version", action="version", version=f"daena {__version__}")
    parser.add_argument(
        "--observer", action="store_true", help="open the console read-only (see daena web)"
    )
    add_global_options(parser)
    if with_commands:
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
        for module in command_modules(command):
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
    from daena_tui.console.app import run_console

    def preview() -> Sequence[PreviewTool] | None:  # the Tools list as stored, at once
        from engine.tools.preview import stored_tools

        return stored_tools(args.db, env_file_from(args))

    return run_console(lambda: settings_from(args), observer=args.observer, preview=preview)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Global options only when there is no subcommand (the console starts faster); else
    only the module of the subcommand given (the first word the global options leave)."""
    known, rest = build_parser(with_commands=False).parse_known_args(argv)
    if not rest:
        known.command = None
        return known
    command = rest[0] if not rest[0].startswith("-") else None
    return build_parser(command=command).parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command is None:
            env_file_from(args)  # a wrong --env-file is said here, not inside the console
            return open_console(args)
        return asyncio.run(_dispatch(args, settings_from(args)))
    except EngineError as err:
        return fail(f"{err.title}: {err.message}", exit_code_for(err))
    except StartupProblem as problem:  # the console reports these the same way
        return startup.report(f"{problem.err.title}: {problem.err.message}")
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
