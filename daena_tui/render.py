"""Rich renderables for tool results and approval arguments (diffs coloured, JSON pretty)."""

from __future__ import annotations

import json
import shlex
from pathlib import PurePosixPath
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

# An ANSI theme follows the terminal's palette, so it suits every Textual theme.
SYNTAX_THEME = "ansi_dark"
TEXT_KEYS = ("patch", "diff", "short", "stdout", "content", "text")


def looks_like_diff(text: str) -> bool:
    head = text.lstrip()[:400]
    return head.startswith(("diff --git", "--- ", "@@ ")) or "\n@@ " in head


def syntax(text: str, lexer: str) -> Syntax:
    return Syntax(text, lexer, theme=SYNTAX_THEME, word_wrap=True, background_color="default")


def as_json(value: Any) -> Syntax:
    return syntax(json.dumps(value, indent=2, ensure_ascii=False, default=str), "json")


def text_block(text: str, path: str | None = None) -> RenderableType:
    """A diff as a coloured diff, a file's text highlighted by its extension, else plain."""
    if looks_like_diff(text):
        return syntax(text, "diff")
    if path:
        lexer = Syntax.guess_lexer(PurePosixPath(path).name, text)
        if lexer not in ("default", "text"):
            return syntax(text, lexer)
    return Text(text)


def render_output(result: dict[str, Any] | None) -> RenderableType:
    """The main text of a well-known result, then the rest of it as JSON."""
    if not result:
        return Text("(no output)", style="dim")
    parts: list[RenderableType] = []
    rest = dict(result)
    for key in TEXT_KEYS:
        value = rest.get(key)
        if isinstance(value, str) and value:
            rest.pop(key)
            parts.append(Text(f"{key}:", style="bold"))
            parts.append(text_block(value, str(result.get("path") or "")))
            break
    stderr = rest.pop("stderr", None)
    if isinstance(stderr, str) and stderr:
        parts += [Text("stderr:", style="bold"), Text(stderr)]
    rest.pop("argv", None)  # shown as the effective command above the output
    if rest:
        parts.append(as_json(rest))
    return Group(*parts)


def render_args(args: dict[str, Any]) -> RenderableType:
    """Exact arguments of a request: long texts in full (a patch as a diff), then the rest."""
    parts: list[RenderableType] = []
    rest: dict[str, Any] = {}
    for key, value in args.items():
        if isinstance(value, str) and ("\n" in value or key in ("patch", "content")):
            parts.append(Text(f"{key}:", style="bold"))
            parts.append(text_block(value, str(args.get("path") or "")))
        else:
            rest[key] = value
    if rest:
        parts.insert(0, as_json(rest))
    return Group(*parts) if parts else Text("(no arguments)", style="dim")


def command_line(result: dict[str, Any] | None) -> str | None:
    """The effective command a tool ran (`argv` in its result), shell-quoted for reading."""
    argv = (result or {}).get("argv")
    if isinstance(argv, list) and argv:
        return shlex.join(str(a) for a in argv)
    return None
