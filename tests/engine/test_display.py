"""Promise 4: `engine.safety.display` makes agent-authored text inert and never hides it."""

from __future__ import annotations

import json
import unicodedata

import pytest

from engine.safety.display import (
    hazard,
    inert,
    inert_one_line,
    json_inert,
    one_line,
    show,
)

TRICKS = {
    "csi clear screen": ("a\x1b[2Jb", "a⟨ESC⟩[2Jb"),
    "osc hyperlink": ("\x1b]8;;http://x\x07y", "⟨ESC⟩]8;;http://x⟨BEL⟩y"),
    "dcs": ("\x1bPq#0\x1b\\", "⟨ESC⟩Pq#0⟨ESC⟩\\"),
    "c1 csi": ("\x9b31mred", "⟨U+009B⟩31mred"),
    "carriage return overwrite": ("rm -rf ~\rgit status", "rm -rf ~⟨CR⟩git status"),
    "backspaces": ("safe\b\b\b\bevil", "safe⟨BS⟩⟨BS⟩⟨BS⟩⟨BS⟩evil"),
    "del": ("a\x7fb", "a⟨DEL⟩b"),
    "nul": ("a\x00b", "a⟨NUL⟩b"),
    "right-to-left override": ("\u202efr- mr", "⟨U+202E⟩fr- mr"),
    "isolates": ("\u2066a\u2069\u2067b\u2068", "⟨U+2066⟩a⟨U+2069⟩⟨U+2067⟩b⟨U+2068⟩"),
    "marks": ("\u200e\u200f\u061c", "⟨U+200E⟩⟨U+200F⟩⟨U+061C⟩"),
    "zero width": (
        "r\u200bm\u200c\u200d\u2060\ufeff",
        "r⟨U+200B⟩m⟨U+200C⟩⟨U+200D⟩⟨U+2060⟩⟨U+FEFF⟩",
    ),
    "soft hyphen": ("a\u00adb", "a⟨U+00AD⟩b"),
    "tag characters": ("ok\U000e0072\U000e006d", "ok⟨U+E0072⟩⟨U+E006D⟩"),
    "variation selectors": ("a\ufe0f\U000e0100", "a⟨U+FE0F⟩⟨U+E0100⟩"),
    "line separators": ("a\u2028b\u2029c", "a⟨U+2028⟩b⟨U+2029⟩c"),
    "look-alike spaces": ("git\u00a0status\u3000x", "git⟨U+00A0⟩status⟨U+3000⟩x"),
    "hangul filler": ("a\u3164b", "a⟨U+3164⟩b"),
    "lone surrogate": ("a\ud800b", "a⟨U+D800⟩b"),
    "a fake mark": ("⟨ESC⟩", "⟨U+27E8⟩ESC⟩"),
}


@pytest.mark.parametrize("case", sorted(TRICKS))
def test_every_trick_is_shown_as_a_mark_not_dropped(case: str) -> None:
    raw, shown = TRICKS[case]
    assert inert(raw) == shown
    assert not any(hazard(ch) for ch in inert(raw))


def test_no_character_that_acts_or_hides_survives() -> None:
    """Every code point: what `inert` returns holds no control, format, separator, unassigned
    or surrogate character (private-use ones stay: icon fonts draw them as glyphs)."""
    everything = "".join(chr(cp) for cp in range(0x110000) if cp != 0x0A)
    out = inert(everything)
    for ch in set(out):
        cat = unicodedata.category(ch)
        assert ch in "\t\n " or cat in ("Co",) or cat[0] not in "CZ", f"U+{ord(ch):04X} {cat}"


def test_plain_text_is_left_as_it_is() -> None:
    text = "def f(x):\n\treturn x  # café, 日本語, emoji 🙂, [b]markup[/b] stays text\n"
    assert inert(text) == text.rstrip("\n")


def test_runs_of_blank_lines_become_one_marker() -> None:
    shown = show("first\n" + "\n" * 200 + "rm -rf ~\n")
    assert shown.plain == "first\n… 200 blank lines …\nrm -rf ~"
    assert inert("a\n\n\nb") == "a\n\n\nb"  # two blank lines are kept as they are
    assert inert("a\n \t\n  \n\nb") == "a\n… 3 blank lines …\nb"


def test_runs_of_spaces_become_a_marker() -> None:
    assert inert("ok" + " " * 300 + "rm -rf ~") == "ok⟨300 spaces⟩rm -rf ~"
    assert inert("    indented") == "    indented"


def test_a_cap_says_how_much_is_left_and_how_to_read_it() -> None:
    text = "\n".join(f"line {n}" for n in range(1, 101))
    shown = show(text, max_lines=10, more=" — press v to read all")
    assert shown.plain.splitlines()[-1] == "… 90 more lines — press v to read all"
    assert shown.hidden_lines == 90 and shown.capped
    cut = show("x" * 50, max_chars=20)
    assert cut.plain == "x" * 20 + "\n… 30 more characters" and cut.hidden_chars == 30


def test_the_marks_are_told_apart_from_the_text() -> None:
    (line,) = show("a\x1bb").lines
    assert [(p.text, p.mark) for p in line] == [("a", False), ("⟨ESC⟩", True), ("b", False)]


def test_one_line_shows_newlines_and_tabs() -> None:
    assert inert_one_line("a\nb\tc") == "a⏎b⇥c"
    assert inert_one_line("x" * 50, 10) == "x" * 9 + "…"
    assert [p.mark for p in one_line("a\nb")] == [False, True, False]


def test_json_inert_is_the_same_json_without_raw_hazards() -> None:
    value = {"k\u202e": ["\x1b[2J", "\x9b", "\u200b", "\U000e0041", "é 日本 🙂", "\ud800"]}
    dumped = json.dumps(value, ensure_ascii=False)
    safe = json_inert(dumped)
    assert json.loads(safe) == value
    assert not any(hazard(ch) for ch in safe)
    assert "é 日本 🙂" in safe  # readable text stays readable
