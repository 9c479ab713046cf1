"""Updating a line that changes often (a countdown, a live count) without a layout pass.

`Static.update` lays the whole screen out again by default, which repaints every widget on
it: on a per-second countdown or a live tail's count that was a fifth to a half of the
console's CPU (BENCHMARKS.md §17). A text equal to the one shown changes nothing; a text as
long as the last one wraps the same way, so only this widget is repainted.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

_SHOWN = "_steady_text"


def update_steady(widget: Static, text: Text) -> None:
    """Show `text` (literal: a `Text` is never read as markup) in `widget`."""
    shown: Text | None = getattr(widget, _SHOWN, None)
    if shown is not None and shown == text:
        return
    same_size = shown is not None and shown.cell_len == text.cell_len
    setattr(widget, _SHOWN, text)
    widget.update(text, layout=not same_size)
