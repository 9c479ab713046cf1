"""A request's exact arguments as blocks of raw rows, for a view that draws only what is on
screen (`widgets/args_view.py`): a 10 MB patch is split once, never rendered whole.

The short arguments come first as JSON, then each long text: a patch as a diff (every row
tagged file / hunk / add / del / context), a file's content with its line numbers, a command
as the argv the engine will run. Rows stay raw here; the view makes each one inert as it
draws it (`engine.safety.display.inert_line`). Two things are done here, over the whole text,
because they decide what rows exist: a run of blank lines becomes one row saying how many
(they cannot push the real text out of view), and a line longer than `CHUNK` characters is
continued on further rows (drawing a row never costs more than `CHUNK` characters).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from engine.errors import EngineError
from engine.safety.commands import split_command
from engine.safety.display import BLANK_RUN

CHUNK = 2000  # raw characters per row; a longer line continues on the next rows
LONG_VALUE = 200  # a one-line string longer than this is a block of its own, after the JSON
DIFF_KEYS = ("patch", "diff")
NUMBERED_KEYS = ("content", "text", "old", "new")
# A row whose width is not its length: anything but printable ASCII (marks, tabs, wide).
_NOT_PLAIN = re.compile(r"[^\x20-\x7e]")
_NOT_PLAIN_TEXT = re.compile(r"[^\x20-\x7e\n]")  # the same, over a whole text

# Row numbers: > 0 the source line a row starts, 0 a continued line, < 0 a collapsed run.
CONTINUED = 0


@dataclass
class Block:
    """One argument (or the short ones together) as rows."""

    title: str
    kind: str  # json | diff | numbered | plain | argv
    rows: list[str] = field(default_factory=list)
    # Row numbers (see CONTINUED); None when row n is simply source line n + 1 (the
    # common case, kept without a list: a 10 MB patch is 200,000 rows).
    numbers: list[int] | None = None
    width: int = 0  # widest row, in cells or more (marks and tabs are counted generously)
    source_lines: int = 0

    def number(self, n: int) -> int:
        return n + 1 if self.numbers is None else self.numbers[n]

    def tag(self, n: int) -> str:
        """A diff row's kind: file, hunk, add, del, meta or ctx (a continued row has the
        kind of the line it continues)."""
        while n > 0 and self.number(n) == CONTINUED:
            n -= 1
        return diff_tag(self.rows[n]) if self.number(n) > 0 else "ctx"


def looks_like_diff(text: str) -> bool:
    head = text.lstrip()[:400]
    return head.startswith(("diff --git", "--- ", "@@ ")) or "\n@@ " in head


def diff_tag(line: str) -> str:
    if line.startswith(("diff --git", "--- ", "+++ ", "index ", "new file", "deleted file")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    if line.startswith("\\"):
        return "meta"
    return "ctx"


def _width(row: str) -> int:
    # a mark is at most 10 cells (⟨U+1F600⟩), a tab 4, a wide character 2
    return len(row) + 9 * len(_NOT_PLAIN.findall(row))


def text_block(title: str, kind: str, text: str) -> Block:
    """Rows of one text: blank runs collapsed, long lines continued. The usual text (no
    blank run, no line over `CHUNK`) takes only C-speed passes: its rows are its lines."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    block = Block(title, kind, source_lines=len(lines))
    longest = max(map(len, lines), default=0)
    if longest <= CHUNK and not _has_blank_run(lines):
        block.rows = lines
    else:
        block.rows, block.numbers = _cut_rows(lines)
    if _NOT_PLAIN_TEXT.search(text):
        block.width = max(map(_width, block.rows), default=0)
    else:
        block.width = min(longest, CHUNK)
    return block


def _has_blank_run(lines: list[str]) -> bool:
    """More than BLANK_RUN blank lines in a row anywhere (C-speed passes only: the blank
    lines become empty, and k empty lines in a row are k + 1 newlines in a row)."""
    joined = "\n" + "\n".join([line.strip(" \t") for line in lines]) + "\n"
    return "\n" * (BLANK_RUN + 2) in joined


def _cut_rows(lines: list[str]) -> tuple[list[str], list[int]]:
    """Rows and their numbers when a run of blank lines or a long line is in the text."""
    rows: list[str] = []
    numbers: list[int] = []
    i, count = 0, len(lines)
    while i < count:
        line = lines[i]
        if not line.strip(" \t"):
            j = i + 1
            while j < count and not lines[j].strip(" \t"):
                j += 1
            if j - i > BLANK_RUN:
                rows.append("")
                numbers.append(-(j - i))
                i = j
                continue
        for start in range(0, max(len(line), 1), CHUNK):
            rows.append(line[start : start + CHUNK])
            numbers.append(i + 1 if start == 0 else CONTINUED)
        i += 1
    return rows, numbers


def _argv_block(title: str, command: Any) -> Block:
    """The argv the engine runs: a string is split as `shell_exec` splits it; a command it
    would refuse is shown as given, said to be refused."""
    try:
        argv = split_command(command) if isinstance(command, (str, list)) else None
    except EngineError as err:
        return text_block(f"{title} (refused: {err.message})", "plain", str(command))
    if argv is None:
        return text_block(title, "plain", json.dumps(command, ensure_ascii=False))
    shown = "\n".join(f"[{n}] {arg}" for n, arg in enumerate(argv))
    return text_block(f"{title} — argv, one argument a row", "argv", shown)


def arg_blocks(args: dict[str, Any]) -> list[Block]:
    """The blocks of a request's arguments, short ones first (see the module docstring)."""
    blocks: list[Block] = []
    short: dict[str, Any] = {}
    for key, value in args.items():
        if key in ("command", "argv") and isinstance(value, (str, list)):
            blocks.append(_argv_block(key, value))
            short[key] = value
            continue
        if not isinstance(value, str):
            short[key] = value
            continue
        multi = "\n" in value or key in DIFF_KEYS or key in NUMBERED_KEYS
        if not multi and len(value) <= LONG_VALUE:
            short[key] = value
            continue
        if key in DIFF_KEYS or looks_like_diff(value):
            blocks.append(text_block(f"{key} — diff", "diff", value))
        elif multi:
            lines = value.count("\n") + (not value.endswith("\n"))
            title = f"{key} — {lines} line{'s' if lines != 1 else ''}, {len(value):,} characters"
            blocks.append(text_block(title, "numbered", value))
        else:
            blocks.append(text_block(f"{key} — {len(value):,} characters", "plain", value))
    if short or not blocks:
        dumped = json.dumps(short, indent=2, ensure_ascii=False, default=str)
        blocks.insert(0, text_block("arguments", "json", dumped))
    return blocks
