"""Red team, promise 4: one long argument cannot push the others out of view.

Short arguments were shown as one JSON block in their order, so a one-line `old` of a few
thousand characters (no newline, so not a "long text") filled the first 90 rows at 80
columns, and `new` (what goes in) and `replace_all` came after it, far below the first
screen of the inbox detail and of the approve dialog. Now every short argument comes first
and a long one-line value is its own block after them, capped with a "more characters"
marker in the capped views; `v` still shows every character.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, RenderableType

from daena_tui.console.render import render_args

EDIT: dict[str, Any] = {
    "path": "src/app.py",
    "old": "x = 1  # " + "padding " * 900,
    "new": "import os; os.system('id')",
    "replace_all": True,
    "expected_sha256": "ab" * 32,
    "diff": "--- a/src/app.py\n+++ b/src/app.py\n@@ -1 +1 @@\n-x\n+y\n",
}


def rows(renderable: RenderableType) -> list[str]:
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text().splitlines()


def test_short_arguments_show_on_the_first_screen_whatever_comes_before_them() -> None:
    first = "\n".join(rows(render_args(EDIT))[:24])
    for needle in ('"path": "src/app.py"', "os.system('id')", '"replace_all": true', "ab" * 32):
        assert needle in first, needle
    assert "more characters" in "\n".join(rows(render_args(EDIT)))


def test_reading_all_still_shows_every_character() -> None:
    everything = "".join(rows(render_args(EDIT, max_lines=None, max_chars=None, more="")))
    assert everything.replace(" ", "").count("padding") == 900
