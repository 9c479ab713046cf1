"""The console's tables: every cell literal and cut with a visible `…`, column widths that
follow the terminal (never a horizontal scrollbar), the highlighted row in full as the
table's tooltip, and the Enter action named in the footer (DataTable hides its own).

DataTable reads a `str` cell as markup and crops a long one without a sign; `cell` makes
every value a `Text` that is never markup and ends in `…` where it is cut, so all tables
go through `RowTable.add_row` / `update_cell`, which apply it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import CellType, ColumnKey, RowKey

from daena_tui.console.widgets.cells import CELL_PADDING, SCROLLBAR, Fit, cell, fit_widths
from engine.safety.display import marks_only

CELL_CACHE = 2_000
"""Rendered cells a table keeps: a screenful of cells many times over (Textual keeps 10,000)."""
LINE_CACHE = 250
"""Rendered rows and lines a table keeps: more than a screen's height (Textual keeps 1,000)."""


def bound_render_caches(table: DataTable[Any]) -> None:
    """Textual keys a table's cached cells and lines on a counter that every change bumps,
    so a table whose cells change each second (the inbox's countdown) fills its caches with
    renders it never draws again: the inbox's RSS grew ~12 MB over its first three minutes
    at 50 runs/s, then stayed (BENCHMARKS.md §17). What is worth keeping is what is on
    screen. The caches are Textual's (private names): if they are renamed, this does
    nothing and the table only keeps Textual's sizes."""
    for name, size in (
        ("_cell_render_cache", CELL_CACHE),
        ("_row_render_cache", LINE_CACHE),
        ("_row_renderable_cache", LINE_CACHE),
        ("_line_cache", LINE_CACHE),
    ):
        cache = getattr(table, name, None)
        if isinstance(cache, LRUCache) and not cache:
            cache.maxsize = size


class RowTable(DataTable[Text]):
    """A row-cursor table of literal, ellipsised cells whose columns fit its width."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Open")]

    def __init__(self, *, id: str | None = None, zebra_stripes: bool = False) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=zebra_stripes)
        self._fits: dict[ColumnKey, Fit] = {}
        self._full: dict[str, str] = {}
        bound_render_caches(self)

    def add_fit_column(
        self, label: str, *, key: str, width: int, flex: int = 0, most: int | None = None
    ) -> ColumnKey:
        """A column of at least `width` cells that grows with the table when `flex` > 0."""
        column = self.add_column(cell(label), key=key, width=width)  # a cut label: …
        self._fits[column] = Fit(width, flex, most)
        return column

    def add_row(self, *cells: object, key: str | None = None, **kw: Any) -> RowKey:
        row = super().add_row(*(cell(c) for c in cells), key=key, **kw)
        if key is not None:
            self._full[key] = marks_only(" · ".join(str(c) for c in cells if str(c)))
        return row

    def remove_row(self, row_key: RowKey | str) -> None:
        super().remove_row(row_key)
        self._full.pop(str(row_key.value if isinstance(row_key, RowKey) else row_key), None)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: CellType | object,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, cell(value), update_width=update_width)

    def clear(self, columns: bool = False) -> RowTable:
        self._full.clear()
        super().clear(columns)
        return self

    def titled(self, title: str) -> RowTable:
        """A titled pane: the title on a rule above the header (one row, no column)."""
        self.border_title = title
        self.add_class("-titled")
        return self

    def current_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if value is None else str(value)

    # -- widths ------------------------------------------------------------------------

    def on_resize(self) -> None:
        self.fit_columns()

    def fit_columns(self) -> None:
        """Share the width among the columns (see `fit_widths`), so none runs past it."""
        if not self._fits:
            return
        keys = [k for k in self.columns if k in self._fits]
        fixed = sum(c.get_render_width(self) for k, c in self.columns.items() if k not in keys)
        room = self.size.width - SCROLLBAR - fixed - 2 * CELL_PADDING * len(keys)
        if room <= 0:
            return
        widths = fit_widths([self._fits[k] for k in keys], room)
        changed = False
        for key, width in zip(keys, widths, strict=True):
            column = self.columns[key]
            if column.width != width or column.auto_width:
                column.width, column.auto_width = width, False
                changed = True
        if changed:
            self._require_update_dimensions = True
            self.refresh()

    # -- the full row ------------------------------------------------------------------

    def watch_cursor_coordinate(self, old: Any, new: Any) -> None:
        super().watch_cursor_coordinate(old, new)
        key = self.current_key()
        full = self._full.get(key) if key is not None else None
        self.tooltip = Text(full) if full else None  # a Text: never read as markup


class ListTable(RowTable):
    """A list whose selection shows beside it (the approvals inbox): Enter does nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False)
    ]


class TaskTable(RowTable):
    # Enter runs the task, as `g` does (the footer names `g` once).
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Run", show=False)]


class NodeTable(RowTable):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Edit")]
