"""Agent-authored text made inert for a terminal (docs/security.md, promise 4: what the
operator sees is what runs).

The agent writes every reason, requester, argument, file, patch and error the console shows.
Printed raw, such text could move or erase other text (C0 and C1 controls, ANSI CSI/OSC/DCS
escapes, carriage returns, backspaces), reorder it (bidi overrides and isolates), hide in it
(zero-width, invisible and tag characters, variation selectors, look-alike spaces) or push the
real arguments out of view (runs of blank lines or spaces, endless text).

Nothing is dropped silently. Each such character becomes a visible *mark* — `⟨ESC⟩`, `⟨CR⟩`,
`⟨U+202E⟩` — and a literal `⟨` in the text becomes `⟨U+27E8⟩`, so every `⟨` shown opens a
real mark and the agent cannot fake or hide one. Runs of blank lines become one
`… 40 blank lines …` line, long runs of spaces `⟨200 spaces⟩`, and a capped text ends with
`… N more lines`. Marks are `Piece(mark=True)`, so a front end can style them apart.

Escape sequences need no parser: with ESC (and the C1 introducers) shown as marks, the rest of
a sequence is ordinary printable text. Pure functions, no terminal library: the console, the
CLI and the API share them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MARK_OPEN = "⟨"
NEWLINE_MARK = "⏎"
TAB_MARK = "⇥"
BLANK_RUN = 2  # up to this many blank lines in a row are shown; a longer run is one marker
SPACE_RUN = 32  # a longer run of spaces or tabs in a line is one marker
# Combining marks kept on one base character; further ones are marks of their own. Many
# terminals draw a pile of them ("Zalgo" text) over the lines above and below.
MAX_COMBINING = 4

_C0 = (
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "TAB", "LF", "VT",
    "FF", "CR", "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB",
    "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US",
)  # fmt: skip
# Unicode categories that never draw a glyph of their own: controls, format characters
# (bidi controls, zero-width, soft hyphen, tags, BOM), surrogates, unassigned code points,
# line and paragraph separators, and spaces other than U+0020 (they pass for a space).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp", "Zs"})
# Visible-category characters that still render as nothing (or as a plain blank).
_INVISIBLE = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0}
    | set(range(0x180B, 0x1810))  # Mongolian variation selectors and vowel separator
    | set(range(0xFE00, 0xFE10))  # variation selectors 1-16
    | set(range(0xE0100, 0xE01F0))  # variation selectors 17-256
)
# Everything but printable ASCII, newline and tab is looked at one by one (fast for ASCII).
_SUSPECT = re.compile(r"[^\x20-\x7e\n\t]+")
_SPACES = re.compile(rf"[ \t]{{{SPACE_RUN + 1},}}")


@dataclass(frozen=True)
class Piece:
    """A run of text as shown: the agent's own characters, or a mark the display added."""

    text: str
    mark: bool = False


Line = tuple[Piece, ...]


def hazard(ch: str) -> bool:
    """True for a character that would not show as itself in a terminal (it acts, hides or
    passes for another); newline and tab are the only controls text may keep."""
    cp = ord(ch)
    if 0x20 <= cp < 0x7F or ch in "\n\t":
        return False
    return cp < 0xA0 or cp in _INVISIBLE or unicodedata.category(ch) in _HIDDEN_CATEGORIES


def _stacks(ch: str) -> bool:
    return unicodedata.combining(ch) != 0 or unicodedata.category(ch) in ("Mn", "Me")


def flagged(run: str) -> list[tuple[str, bool]]:
    """Each character of a run of non-ASCII text with whether it must be shown as a mark:
    a hazard, a literal `⟨`, an enclosing mark (it draws around and beyond its base), or
    a combining mark past the `MAX_COMBINING`-th in a row (once one is a mark, the rest of
    the pile is too, so none stacks on the mark). A run starts after a printable ASCII
    character, so its count starts at zero."""
    out: list[tuple[str, bool]] = []
    stacked = 0
    for ch in run:
        stacked = stacked + 1 if _stacks(ch) else 0
        marked = (
            hazard(ch)
            or ch == MARK_OPEN
            or stacked > MAX_COMBINING
            or (stacked > 0 and unicodedata.category(ch) == "Me")
        )
        out.append((ch, marked))
    return out


def mark_for(ch: str) -> str:
    """The visible stand-in of one hazardous character: `⟨ESC⟩`, `⟨DEL⟩`, `⟨U+202E⟩`."""
    cp = ord(ch)
    if cp < 0x20:
        return f"{MARK_OPEN}{_C0[cp]}⟩"
    if cp == 0x7F:
        return f"{MARK_OPEN}DEL⟩"
    return f"{MARK_OPEN}U+{cp:04X}⟩"


def inert_line(line: str) -> Line:
    """One line (no newline in it) as pieces: hazards, `⟨` and long blank runs marked."""
    pieces: list[Piece] = []
    plain: list[str] = []

    def flush() -> None:
        if plain:
            pieces.append(Piece("".join(plain)))
            plain.clear()

    pos = 0
    for match in _SUSPECT.finditer(line):
        plain.append(line[pos : match.start()])
        for ch, marked in flagged(match.group()):
            if marked:
                flush()
                pieces.append(Piece(mark_for(ch), mark=True))
            else:
                plain.append(ch)
        pos = match.end()
    plain.append(line[pos:])
    flush()
    return tuple(_mark_space_runs(pieces))


def _mark_space_runs(pieces: Iterable[Piece]) -> Iterable[Piece]:
    for piece in pieces:
        if piece.mark or not _SPACES.search(piece.text):
            yield piece
            continue
        pos = 0
        for match in _SPACES.finditer(piece.text):
            if match.start() > pos:
                yield Piece(piece.text[pos : match.start()])
            run = match.group()
            tabs = run.count("\t")
            what = f"{len(run)} spaces" if not tabs else f"{len(run)} spaces and tabs"
            yield Piece(f"{MARK_OPEN}{what}⟩", mark=True)
            pos = match.end()
        if pos < len(piece.text):
            yield Piece(piece.text[pos:])


@dataclass(frozen=True)
class Shown:
    """A text as it may be shown: inert lines, and how much of the text they leave out."""

    lines: tuple[Line, ...]
    hidden_lines: int = 0
    hidden_chars: int = 0

    @property
    def capped(self) -> bool:
        return bool(self.hidden_lines or self.hidden_chars)

    @property
    def plain(self) -> str:
        """The lines as one string, marks included (for plain output such as the CLI)."""
        return "\n".join("".join(p.text for p in line) for line in self.lines)


def show(
    text: str, *, max_lines: int | None = None, max_chars: int | None = None, more: str = ""
) -> Shown:
    """`text` made inert, blank runs collapsed and, past `max_lines` lines or `max_chars`
    characters, cut with a last line `… N more lines` followed by `more` (how to read all)."""
    hidden_chars = 0
    if max_chars is not None and len(text) > max_chars:
        hidden_chars = len(text) - max_chars
        text = text[:max_chars]
    raw = text.split("\n")
    if len(raw) > 1 and raw[-1] == "":
        raw.pop()  # a final newline ends the last line; it does not start another
    lines: list[Line] = []
    consumed: list[int] = []  # source lines used up after each shown line
    i = 0
    while i < len(raw):
        j = i
        while j < len(raw) and not raw[j].strip(" \t"):
            j += 1
        if j - i > BLANK_RUN:
            lines.append((Piece(f"… {j - i} blank lines …", mark=True),))
            consumed.append(j)
            i = j
            continue
        lines.append(inert_line(raw[i]))
        i += 1
        consumed.append(i)
    hidden_lines = 0
    if max_lines is not None and len(lines) > max_lines:
        hidden_lines = len(raw) - consumed[max_lines - 1]
        lines = lines[:max_lines]
    if hidden_lines or hidden_chars:
        lines.append((Piece(_more(hidden_lines, hidden_chars) + more, mark=True),))
    return Shown(tuple(lines), hidden_lines, hidden_chars)


def _more(lines: int, chars: int) -> str:
    parts = []
    if lines:
        parts.append(f"{lines} more line{'s' if lines != 1 else ''}")
    if chars:
        parts.append(f"{chars} more character{'s' if chars != 1 else ''}")
    return "… " + " and ".join(parts)


def one_line(text: str, max_chars: int | None = None) -> Line:
    """`text` for one row of a table: newlines shown as `⏎`, tabs as `⇥`, cut with `…`."""
    pieces: list[Piece] = []
    for n, line in enumerate(show(text).lines):
        if n:
            pieces.append(Piece(NEWLINE_MARK, mark=True))
        for piece in line:
            if piece.mark or "\t" not in piece.text:
                pieces.append(piece)
                continue
            for k, part in enumerate(piece.text.split("\t")):
                if k:
                    pieces.append(Piece(TAB_MARK, mark=True))
                if part:
                    pieces.append(Piece(part))
    return _cut(pieces, max_chars) if max_chars is not None else tuple(pieces)


def _cut(pieces: list[Piece], max_chars: int) -> Line:
    out: list[Piece] = []
    left = max_chars
    for piece in pieces:
        if len(piece.text) > left:
            if not piece.mark and left > 1:
                out.append(Piece(piece.text[: left - 1]))
            out.append(Piece("…", mark=True))
            return tuple(out)
        out.append(piece)
        left -= len(piece.text)
    return tuple(out)


def inert(
    text: str, *, max_lines: int | None = None, max_chars: int | None = None, more: str = ""
) -> str:
    """`show(text, ...)` as one plain string (marks included)."""
    return show(text, max_lines=max_lines, max_chars=max_chars, more=more).plain


def inert_one_line(text: str, max_chars: int | None = None) -> str:
    """`one_line(text)` as one plain string."""
    return "".join(p.text for p in one_line(text, max_chars))


def marks_only(text: str) -> str:
    """Every hazard replaced by its mark, newlines and tabs kept and nothing collapsed: the
    last guard on output the front end composed itself (aligned tables, its own blank lines)
    around agent text that was already shown through `show` or `one_line`."""
    return _SUSPECT.sub(
        lambda m: "".join(
            mark_for(ch) if marked and ch != MARK_OPEN else ch for ch, marked in flagged(m.group())
        ),
        text,
    )


def json_inert(dumped: str) -> str:
    """JSON text with every hazard written as a `\\uXXXX` escape: the same JSON value, but
    nothing in it can act on a terminal or hide. JSON text has hazards only inside strings
    (its own whitespace is space, tab, newline and CR, and `json.dumps` writes no CR)."""
    return _SUSPECT.sub(
        lambda m: "".join(
            _json_escape(ch) if marked and ch != MARK_OPEN else ch
            for ch, marked in flagged(m.group())
        ),
        dumped,
    )


def _json_escape(ch: str) -> str:
    cp = ord(ch)
    if cp > 0xFFFF:  # as a UTF-16 surrogate pair, as JSON spells it
        cp -= 0x10000
        return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"
    return f"\\u{cp:04x}"
