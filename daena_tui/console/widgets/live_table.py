"""Live tables at constant cost per event: rows are added, changed and dropped by key.

A live view (the Logs tail, the approvals inbox) that clears its table and re-adds every
row on each event costs more with every row shown; these helpers touch only the rows that
changed, keep the table within a bounded window, and keep the cursor on the row it was on
(by key, not by position: rows added above it do not move the selection).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text
Row = tuple[str, tuple[Cell, ...]]
"""A row to show: its key and its cells, in column order."""


class LiveRows:
    """Keeps a DataTable's rows in step with keyed rows without clearing it."""

    def __init__(self, table: DataTable[Any]) -> None:
        self.table = table
        self._cells: dict[str, tuple[Cell, ...]] = {}

    def _cursor_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        value = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if value is None else str(value)

    def _restore(self, key: str | None) -> None:
        if key is not None and key in self.table.rows:
            index = self.table.get_row_index(key)
            if index != self.table.cursor_row:
                self.table.move_cursor(row=index, animate=False)

    def keys(self) -> list[str]:
        """The row keys in the order shown."""
        return [str(row.key.value) for row in self.table.ordered_rows]

    def visible_keys(self, margin: int = 5) -> set[str]:
        """The keys of the rows on screen (and `margin` either side): what a per-second
        refresh of one column needs to touch, however long the list."""
        table = self.table
        top = max(0, int(table.scroll_y) - margin)
        bottom = int(table.scroll_y) + table.size.height + margin
        rows = table.ordered_rows[top:bottom]
        return {str(row.key.value) for row in rows}

    def _add(self, key: str, cells: tuple[Cell, ...]) -> None:
        self.table.add_row(*cells, key=key)
        self._cells[key] = cells

    def _remove(self, key: str) -> None:
        self.table.remove_row(key)
        self._cells.pop(key, None)

    def _update(self, key: str, cells: tuple[Cell, ...]) -> None:
        old = self._cells.get(key)
        if old == cells:
            return
        for index, column in enumerate(self.table.columns):
            if old is None or index >= len(old) or old[index] != cells[index]:
                self.table.update_cell(key, column, cells[index])
        self._cells[key] = cells

    def sync(self, rows: Sequence[Row]) -> None:
        """Show exactly `rows`, in this order: drop the rows that are gone, add the new ones
        at the end, update the cells that changed. Only when the rows that stay change their
        order (or a new row belongs before an old one) is the table rebuilt."""
        keep = self._cursor_key()
        wanted = {key for key, _ in rows}
        for key in [k for k in self.keys() if k not in wanted]:
            self._remove(key)
        present = set(self._cells)
        shown = [key for key, _ in rows if key in present]
        if shown != self.keys()[: len(shown)] or any(
            key not in present for key, _ in rows[: len(shown)]
        ):
            self.rebuild(rows)
        else:
            for key, cells in rows:
                if key in present:
                    self._update(key, cells)
                else:
                    self._add(key, cells)
        self._restore(keep)

    def append(self, rows: Sequence[Row]) -> None:
        """Add rows after every row shown (the next page of a list)."""
        for key, cells in rows:
            if key in self._cells:
                self._update(key, cells)
            else:
                self._add(key, cells)

    def rebuild(self, rows: Sequence[Row], *, keep_cursor: bool = True) -> None:
        """Clear and add every row (a reload: a new filter, a new theme). With
        `keep_cursor` the cursor stays on its row if that row is still there."""
        keep = self._cursor_key() if keep_cursor else None
        self.table.clear()
        self._cells.clear()
        for key, cells in rows:
            self._add(key, cells)
        self._restore(keep)

    def add_newest(
        self,
        rows: Sequence[Row],
        *,
        window: int,
        order: Callable[[Any], Any],
        order_column: str,
    ) -> list[str]:
        """Add rows newer than every row shown, newest first, then drop the oldest beyond
        `window` rows (never the row under the cursor or rows above it). `order(value of
        order_column)` sorts newest first. Returns the keys dropped. A cursor on the top
        row follows the newest row; anywhere else it stays on its row."""
        if not rows:
            return []
        table = self.table
        follow = table.cursor_row <= 0
        keep = None if follow else self._cursor_key()
        self.append(rows)
        table.sort(order_column, key=order)
        below = table.get_row_index(keep) + 1 if keep is not None and keep in table.rows else 0
        limit = max(window, below)
        dropped = self.keys()[limit:]
        for key in dropped:
            self._remove(key)
        if follow:
            if table.row_count and table.cursor_row != 0:
                table.move_cursor(row=0, animate=False)
        else:
            self._restore(keep)
        return dropped


def cut_short(shown: int, total: int, limit: int) -> bool:
    """True when a list stopped at its limit with more left to show."""
    return shown >= limit and total > shown


def capped(shown: int, total: int, limit: int) -> str:
    """A list's count for its title: `9,993`, or when it stopped at its limit `500 of
    9,993`, so a list that is cut short says so."""
    return f"{shown:,} of {total:,}" if cut_short(shown, total, limit) else f"{total:,}"
