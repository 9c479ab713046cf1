"""Rich renderables for tool results and approval arguments (diffs coloured, JSON pretty).

Every string here may be the agent's: it goes through `engine.safety.display` (controls,
escapes, bidi and invisible characters shown as marks, blank runs collapsed, long texts
capped with a "more lines" marker) and is built as `Text`/`Syntax`, never parsed as markup.
"""

from __future__ import annotations

import json
import shlex
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.text import Text

from engine.safety.display import Line, Shown, one_line, show

if TYPE_CHECKING:  # rich.syntax loads pygments (~18 ms): on the first highlighted text
    from rich.syntax import Syntax

# An ANSI theme follows the terminal's palette, so it suits every Textual theme.
SYNTAX_THEME = "ansi_dark"
TEXT_KEYS = ("patch", "diff", "short", "stdout", "content", "text")
MARK_STYLE = "reverse"  # a mark (⟨ESC⟩, ⟨U+202E⟩, "… 40 blank lines …") is not the agent's text
ARG_LINES = 40  # lines of one argument shown in the detail pane before a "more lines" marker
ARG_CHARS = 8000
READ_ALL = " — press v to read all"
# A one-line argument longer than this is shown after the short ones, as its own block
# capped at LONG_VALUE_CHARS in a capped view: it must not push the others off the screen.
LONG_VALUE = 200
LONG_VALUE_CHARS = 400
TAB_SIZE = 4


def looks_like_diff(text: str) -> bool:
    head = text.lstrip()[:400]
    return head.startswith(("diff --git", "--- ", "@@ ")) or "\n@@ " in head


def line_text(line: Line, style: str = "") -> Text:
    text = Text(style=style)
    for piece in line:
        text.append(piece.text, MARK_STYLE if piece.mark else None)
    return text


def shown_text(shown: Shown, style: str = "") -> Text:
    return Text("\n", style=style).join(line_text(line) for line in shown.lines)


def agent_text(
    text: str,
    *,
    max_lines: int | None = ARG_LINES,
    max_chars: int | None = ARG_CHARS,
    more: str = READ_ALL,
    style: str = "",
) -> Text:
    """Agent-authored text, inert, as plain `Text` (a `[b]` in it shows as `[b]`)."""
    return shown_text(show(text, max_lines=max_lines, max_chars=max_chars, more=more), style)


def agent_cell(text: str, max_chars: int = 200) -> Text:
    """Agent-authored text for one table cell: one line, newlines shown as ⏎."""
    return line_text(one_line(text, max_chars))


def _marked_syntax(shown: Shown, lexer: str) -> Syntax:
    """Highlighted inert text; the marks keep their own style on top of the highlighting
    (tabs are expanded here, so that a mark's columns are the columns it is drawn at)."""
    lines: list[str] = []
    ranges: list[tuple[int, int, int]] = []
    for number, line in enumerate(shown.lines, start=1):
        drawn = ""
        for piece in line:
            start = len(drawn)
            drawn += _expand_tabs(piece.text, start)
            if piece.mark:
                ranges.append((number, start, len(drawn)))
        lines.append(drawn)
    from rich.syntax import Syntax

    result = Syntax(
        "\n".join(lines), lexer, theme=SYNTAX_THEME, word_wrap=True, background_color="default"
    )
    for number, start, end in ranges:
        result.stylize_range(MARK_STYLE, (number, start), (number, end))
    return result


def _expand_tabs(text: str, column: int) -> str:
    if "\t" not in text:
        return text
    out = []
    for ch in text:
        if ch == "\t":
            ch = " " * (TAB_SIZE - (column % TAB_SIZE))
        out.append(ch)
        column += len(ch)
    return "".join(out)


def syntax(
    text: str,
    lexer: str,
    *,
    max_lines: int | None = None,
    max_chars: int | None = ARG_CHARS,
    more: str = "",
) -> Syntax:
    shown = show(text, max_lines=max_lines, max_chars=max_chars, more=more)
    return _marked_syntax(shown, lexer)


def as_json(
    value: Any, *, max_lines: int | None = None, max_chars: int | None = ARG_CHARS, more: str = ""
) -> Syntax:
    """JSON with its strings inert (JSON already writes C0 controls as `\\u001b`)."""
    dumped = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return syntax(dumped, "json", max_lines=max_lines, max_chars=max_chars, more=more)


def text_block(
    text: str,
    path: str | None = None,
    *,
    max_lines: int | None = None,
    max_chars: int | None = ARG_CHARS,
    more: str = "",
) -> RenderableType:
    """A diff as a coloured diff, a file's text highlighted by its extension, else plain."""
    lexer = "diff" if looks_like_diff(text) else None
    if lexer is None and path:
        from rich.syntax import Syntax

        lexer = Syntax.guess_lexer(PurePosixPath(path).name, text[:ARG_CHARS])
    if lexer in (None, "default", "text"):
        return agent_text(text, max_lines=max_lines, max_chars=max_chars, more=more)
    return syntax(text, str(lexer), max_lines=max_lines, max_chars=max_chars, more=more)


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
        parts += [Text("stderr:", style="bold"), agent_text(stderr, max_lines=None, more="")]
    rest.pop("argv", None)  # shown as the effective command above the output
    if rest:
        parts.append(as_json(rest))
    return Group(*parts)


def render_args(
    args: dict[str, Any],
    *,
    max_lines: int | None = ARG_LINES,
    max_chars: int | None = ARG_CHARS,
    more: str = READ_ALL,
) -> RenderableType:
    """Exact arguments of a request: the short ones as JSON first, then each long text (a
    patch as a diff), every one capped at `max_lines` with a marker saying how much is left."""
    parts: list[RenderableType] = []
    rest: dict[str, Any] = {}
    for key, value in args.items():
        if not isinstance(value, str):
            rest[key] = value
            continue
        text = "\n" in value or key in ("patch", "content")
        if not text and len(value) <= LONG_VALUE:
            rest[key] = value
            continue
        cap = max_chars if text or max_chars is None else min(max_chars, LONG_VALUE_CHARS)
        parts.append(line_text(one_line(f"{key}:", 80), style="bold"))
        path = args.get("path")
        parts.append(
            text_block(
                value,
                path if isinstance(path, str) else None,
                max_lines=max_lines,
                max_chars=cap,
                more=more,
            )
        )
    if rest:
        parts.insert(0, as_json(rest, max_lines=max_lines, max_chars=max_chars, more=more))
    return Group(*parts) if parts else Text("(no arguments)", style="dim")


def command_line(result: dict[str, Any] | None) -> str | None:
    """The effective command a tool ran (`argv` in its result), shell-quoted for reading and
    inert (a control character in an argument shows as a mark, not as an action)."""
    argv = (result or {}).get("argv")
    if isinstance(argv, list) and argv:
        return "".join(p.text for p in one_line(shlex.join(str(a) for a in argv)))
    return None
