"""What every console table's cells and columns follow, DataTable or VirtualTable: a cell is
literal text (a `str` is never read as markup) cut with a visible `…`, and the columns share
the width so none runs past it. Kept apart from `tables.py`, which needs Textual's DataTable
(~10 ms to import): the Tools list, drawn before anything else, is a VirtualTable.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

CELL_PADDING = 1  # DataTable's default, on each side of a cell
SCROLLBAR = 1  # the vertical scrollbar (app.tcss)


def cell(value: object) -> Text:
    """One table cell: literal text (a str is never read as markup), cut with `…`."""
    text = value.copy() if isinstance(value, Text) else Text("" if value is None else str(value))
    text.no_wrap = True
    text.overflow = "ellipsis"
    text.end = ""
    return text


@dataclass(frozen=True)
class Fit:
    """A column's share of the width: at least `width` cells; a `flex` column also takes
    its share of what is left (in proportion to `flex`), up to `most` cells if given."""

    width: int
    flex: int = 0
    most: int | None = None


def fit_widths(fits: list[Fit], room: int) -> list[int]:
    """Column widths (without padding) for `room` cells of content: every column gets its
    minimum, then the flex columns share the rest; past the room, the flex columns shrink
    to 3 cells first (an ellipsis still shows)."""
    widths = [f.width for f in fits]
    spare = room - sum(widths)
    flexes = [i for i, f in enumerate(fits) if f.flex]
    if spare < 0:
        for i in flexes:
            give = min(-spare, max(widths[i] - 3, 0))
            widths[i] -= give
            spare += give
        return widths
    while spare > 0 and flexes:
        total = sum(fits[i].flex for i in flexes)
        given = 0
        for i in flexes:
            share = max(spare * fits[i].flex // total, 1)
            most = fits[i].most
            if most is not None:
                share = min(share, most - widths[i])
            share = min(share, spare - given)
            widths[i] += share
            given += share
        spare -= given
        flexes = [i for i in flexes if fits[i].most is None or widths[i] < (fits[i].most or 0)]
        if not given:
            break
    return widths
