"""What every `daena` subcommand shares: the engine it opens, output, errors, arguments.

Subcommand modules define `register(subparsers)` and attach `handler=async fn(args, cli)`;
the handler returns the exit code: 0 ok, 1 tool error, 2 usage/bad input, 3 refused or
needs approval. Engine errors become one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from daena_tui.startup import settle_database_threads, threads_now
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

EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


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
        self._threads_before = threads_now()

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
        await settle_database_threads(self._threads_before)

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


def fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"daena: {marks_only(message)}\n")  # errors quote agent input
    return code


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Plain aligned columns (readable over SSH and in logs)."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def parse_json_object(raw: str, field: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InputError(f"{field}: not valid JSON ({err.msg} at column {err.colno})") from err
    if not isinstance(value, dict):
        raise InputError(f"{field}: must be a JSON object")
    return value


def read_argument(raw: str, field: str, *, stdin: bool = False) -> str:
    """An argument's text: `@FILE` is the file's content (UTF-8), `@@x` is the literal `@x`
    and, with `stdin`, `-` is standard input. A file keeps a 2 MB patch off the command line
    (the OS caps argv) and out of the shell history."""
    if stdin and raw == "-":
        return _decoded(sys.stdin.buffer.read(), field, "standard input")
    if raw.startswith("@@"):
        return raw[1:]
    if not raw.startswith("@"):
        return raw
    path = Path(raw[1:]).expanduser()
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{field}: cannot read {path}: {err.strerror or err}") from err
    return _decoded(data, field, str(path))


def _decoded(data: bytes, field: str, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{field}: {source} is not UTF-8 text (byte {err.start}); save it as UTF-8"
        ) from None


def parse_kv(pairs: Sequence[str], schema: dict[str, Any]) -> dict[str, Any]:
    """`--arg k=v` pairs: strings stay strings; other schema types are read as JSON;
    `k=@FILE` takes the value from a file (`k=@@x` for a literal `@x`)."""
    props = schema.get("properties", {})
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--arg: {pair!r} must look like key=value")
        raw = read_argument(raw, f"--arg {key}")
        prop = props.get(key, {})
        types = _types(prop)
        if types and types <= {"string", "null"} and "string" in types:
            args[key] = raw
            continue
        try:
            args[key] = json.loads(raw)
        except json.JSONDecodeError:
            args[key] = raw
    return args


def _types(prop: dict[str, Any]) -> set[str]:
    if "type" in prop:
        return {prop["type"]} if isinstance(prop["type"], str) else set(prop["type"])
    found: set[str] = set()
    for option in prop.get("anyOf", []):
        found |= _types(option)
    return found
