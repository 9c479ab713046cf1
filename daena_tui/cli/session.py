"""What every `daena` subcommand shares: the engine it opens and how its results are emitted.

Subcommand modules define `register(subparsers)` and attach `handler=async fn(args, cli)`;
the handler returns the exit code: 0 ok, 1 tool error, 2 usage/bad input, 3 refused or
needs approval. Engine errors become one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, TextIO

from daena_tui.cli.output import EXIT_REFUSED, EXIT_TOOL_ERROR, EXIT_USAGE
from engine import (
    ApprovalError,
    ConfigError,
    EngineError,
    InputError,
    NotFoundError,
    PolicyError,
)
from engine.safety.display import json_inert, marks_only

if TYPE_CHECKING:
    from engine import Engine, Settings

Handler = Callable[[argparse.Namespace, "Cli"], Awaitable[int]]


def exit_code_for(err: EngineError) -> int:
    if isinstance(err, PolicyError | ApprovalError):
        return EXIT_REFUSED
    if isinstance(err, InputError | ConfigError | NotFoundError):
        return EXIT_USAGE
    return EXIT_TOOL_ERROR


class Cli:
    """Per-invocation state: settings, output mode, and a lazily opened engine."""

    def __init__(self, settings: Settings, *, json_output: bool, out: TextIO | None = None) -> None:
        self.settings = settings
        self.json = json_output
        self.out = out or sys.stdout
        self._stack = AsyncExitStack()
        self._engine: Engine | None = None

    async def engine(self, *, watch: bool = False, index_audit: bool = False) -> Engine:
        if self._engine is None:
            from engine import Engine  # the whole engine loads only for commands that use it

            try:
                self._engine = await self._stack.enter_async_context(
                    Engine.open(self.settings, watch=watch, index_audit=index_audit)
                )
            except EngineError as err:
                raise StartupProblem(err) from err
        return self._engine

    async def close(self) -> None:
        await self._stack.aclose()

    def emit(self, data: Any, text: str | Callable[[], str]) -> None:
        """Print `data` as JSON with --json, else the human text. Neither lets a control,
        bidi or invisible character reach the terminal raw (agent text is in both): JSON
        writes them as \\u escapes (the same JSON value), text as visible marks."""
        if self.json:
            dumped = json.dumps(data, indent=2, default=str, ensure_ascii=False)
            self.out.write(json_inert(dumped) + "\n")
        else:
            shown = text() if callable(text) else text
            if shown:
                self.out.write(marks_only(shown.rstrip("\n")) + "\n")

    def line(self, text: str) -> None:
        self.out.write(marks_only(text) + "\n")
        self.out.flush()


class StartupProblem(Exception):
    """The engine could not open (a missing, read-only or corrupt database, a bad seed):
    exit code 2, the same as the console for the same problem."""

    def __init__(self, err: EngineError) -> None:
        super().__init__(err.message)
        self.err = err
