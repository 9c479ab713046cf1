"""Red team, promise 4: combining marks cannot pile up to draw over other lines.

Combining marks are visible characters, so the display kept them all; but hundreds of them
on one base character ("Zalgo" text) are drawn stacked above and below the cell by many
terminals, over the lines around it: an agent's reason under the arguments could paint
over the arguments it sits below. Enclosing marks (U+0489, U+20DD) draw around and beyond
their base. Past a few marks on one base, each further mark is shown as a mark of its own.
"""

from __future__ import annotations

import json
import unicodedata

import pytest

from engine.safety.display import MAX_COMBINING, inert, inert_one_line, json_inert, marks_only

ZALGO = "git status" + "\u0301\u0300\u0302\u0303" * 50 + " is all that runs"


def longest_stack(text: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if unicodedata.combining(ch) or unicodedata.category(ch) == "Me" else 0
        longest = max(longest, run)
    return longest


@pytest.mark.parametrize("shown", [inert, inert_one_line, marks_only], ids=lambda f: f.__name__)
def test_a_pile_of_combining_marks_is_shown_as_marks(shown: object) -> None:
    assert callable(shown)
    out = shown(ZALGO)
    assert longest_stack(out) <= MAX_COMBINING
    assert "⟨U+0301⟩" in out  # nothing dropped: the excess is visible
    assert out.count("⟨U+") == 200 - MAX_COMBINING


def test_enclosing_marks_are_always_marked() -> None:
    for mark in ("\u0489", "\u20dd", "\u20de", "\u0488"):
        assert longest_stack(inert("x" + mark)) == 0, f"U+{ord(mark):04X}"


def test_json_inert_escapes_the_excess() -> None:
    dumped = json_inert(json.dumps({"reason": ZALGO}, ensure_ascii=False))
    assert longest_stack(dumped) <= MAX_COMBINING
    assert json.loads(dumped) == {"reason": ZALGO}


def test_ordinary_accents_stay_as_they_are() -> None:
    for text in (
        unicodedata.normalize("NFD", "Tiếng Việt, café, naïve"),
        "Tiếng Việt, café",
        "हिन्दी",  # Devanagari: a vowel sign and a virama
    ):
        assert inert(text) == text
