"""A row-cursor table that draws only the rows on screen, and each of them once: a live view
(the Logs tail) costs the same per event however long it runs.

Textual's DataTable keys every cached cell and line on a counter that any change bumps and
on the cursor's position, so one new row, or one cursor move, redraws every cell on screen
(about 1.5-2 ms a row change at 50 records a second). Here a row's line is drawn when it
first shows and again only when its cells, the column widths, the theme, the focus or
whether the cursor is on it change; rows added above only move the lines. Stripes follow a
number each row gets when it is added (not its position), so a row added at the top does
not swap the stripe of every row below it. Cells are literal and cut with `…` as in every
console table (`cells.cell`), and the highlighted row in full is the tooltip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from daena_tui.console.widgets.cells import CELL_PADDING, Fit, cell, fit_widths
from engine.safety.display import marks_only

Row = tuple[str, Sequence[object]]
"""A row to show: its key and its cells, in column order."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    fit: Fit


class VirtualTable(ScrollView, can_focus=True):
    """Keyed rows in order, drawn from a per-row cache; `renders` counts rows drawn."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "datatable--header",
        "datatable--cursor",
        "datatable--even-row",
        "datatable--odd-row",
    }
    # DataTable's look (the same component classes), so both kinds of table match.
    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        &:focus {
            background-tint: $foreground 5%;
            & > .datatable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .datatable--header { background-tint: $foreground 5%; }
        }
        &:dark { & > .datatable--even-row { background: $surface-darken-1 40%; } }
        & > .datatable--header { text-style: bold; background: $panel; color: $foreground; }
        & > .datatable--even-row { background: $surface-lighten-1 50%; }
        & > .datatable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open"),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,ctrl+home", "edge(0)", "Top", show=False),
        Binding("end,ctrl+end", "edge(1)", "Bottom", show=False),
    ]

    class RowHighlighted(Message):
        """The cursor moved to row `cursor_row` (key `key`)."""

        def __init__(self, table: VirtualTable, cursor_row: int, key: str) -> None:
            super().__init__()
            self.table, self.cursor_row, self.key = table, cursor_row, key

        @property
        def control(self) -> VirtualTable:
            return self.table

    class RowSelected(Message):
        """Enter (or a second click) on the row `key`."""

        def __init__(self, table: VirtualTable, key: str) -> None:
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns: list[Column] = []
        self._keys: list[str] = []  # in the order shown
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._stripe: dict[str, int] = {}
        self._top_serial = 0  # the next row added at the top gets one less
        self._bottom_serial = 0  # the next row added at the end gets this
        self._index: dict[str, int] | None = None  # key -> position, rebuilt when needed
        self._lines: dict[str, tuple[tuple[object, ...], Strip]] = {}
        self._head: tuple[tuple[object, ...], Strip] | None = None
        self._widths: tuple[int, ...] = ()
        self._look = 0  # bumped by a theme or focus change: every row is drawn anew
        self.cursor_row = 0
        self.renders = 0

    # -- columns -----------------------------------------------------------------------

    def add_fit_column(
        self, label: str, *, key: str, width: int, flex: int = 0, most: int | None = None
    ) -> None:
        """A column of at least `width` cells that grows with the table when `flex` > 0."""
        self.columns.append(Column(key, label, Fit(width, flex, most)))

    def titled(self, title: str) -> VirtualTable:
        """A titled pane: the title on a rule above the header."""
        self.border_title = title
        self.add_class("-titled")
        return self

    def _fit(self) -> tuple[int, ...]:
        room = self.scrollable_content_region.width - 2 * CELL_PADDING * len(self.columns)
        if room <= 0 or not self.columns:
            return self._widths
        return tuple(fit_widths([c.fit for c in self.columns], room))

    # -- rows --------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def rows(self) -> list[str]:
        """The row keys in the order shown."""
        return list(self._keys)

    def row_keys(self) -> list[str]:
        """The row keys in the order shown."""
        return list(self._keys)

    def get_row_index(self, key: str) -> int:
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self._keys)}
        return self._index[key]

    def get_row(self, key: str) -> list[Text]:
        return list(self._cells[key])

    def get_cell(self, key: str, column: str) -> Text:
        index = next(i for i, c in enumerate(self.columns) if c.key == column)
        return self._cells[key][index]

    def current_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        return self._keys[self.cursor_row] if self._keys else None

    def _store(self, key: str, cells: Sequence[object], stripe: int) -> None:
        shown = tuple(cell(c) for c in cells)
        if self._cells.get(key) != shown:
            self._cells[key] = shown
            self._lines.pop(key, None)
        self._stripe.setdefault(key, stripe)

    def _forget(self, key: str) -> None:
        self._cells.pop(key, None)
        self._stripe.pop(key, None)
        self._lines.pop(key, None)

    def set_rows(self, rows: Sequence[Row], *, keep_cursor: bool = True) -> None:
        """Show exactly `rows` (a reload). With `keep_cursor` the cursor stays on its row if
        that row is still there, else it goes to the top."""
        keep = self.current_key() if keep_cursor else None
        wanted = {key for key, _ in rows}
        for key in [k for k in self._keys if k not in wanted]:
            self._forget(key)
        self._keys = []
        self._stripe.clear()
        self._top_serial = self._bottom_serial = 0
        for key, cells in rows:
            self._store(key, cells, self._bottom_serial)
            self._bottom_serial += 1
            self._keys.append(key)
        self._changed(cursor=self._position(keep))

    def append(self, rows: Sequence[Row]) -> None:
        """Add rows after every row shown (the next page of a list); a key already shown
        only has its cells updated."""
        keep = self.current_key()
        for key, cells in rows:
            if key not in self._cells:
                self._keys.append(key)
            self._store(key, cells, self._bottom_serial)
            self._bottom_serial += 1
        self._changed(cursor=self._position(keep))

    def add_newest(self, rows: Sequence[Row], *, window: int) -> list[str]:
        """Add rows (newest first) above every row shown, then drop the oldest beyond
        `window` rows (never the row under the cursor or rows above it). Returns the keys
        dropped. A cursor on the top row follows the newest row; anywhere else it stays on
        its row, and the rows on screen stay where they were."""
        fresh = [(k, c) for k, c in rows if k not in self._cells]
        if not fresh:
            return []
        follow = self.cursor_row <= 0
        keep = self.current_key()
        for key, cells in reversed(fresh):
            self._top_serial -= 1
            self._store(key, cells, self._top_serial)
        self._keys[:0] = [key for key, _ in fresh]
        below = 0 if follow else self.cursor_row + len(fresh) + 1
        dropped = self._keys[max(window, below) :]
        del self._keys[max(window, below) :]
        for key in dropped:
            self._forget(key)
        if follow:
            self._changed(cursor=0, scroll=0.0)
        else:
            self._index = None
            self._changed(cursor=self._position(keep), scroll=self.scroll_y + len(fresh))
        return dropped

    def _position(self, key: str | None) -> int:
        self._index = None
        if key is not None and key in self._cells:
            return self.get_row_index(key)
        return 0

    def _changed(self, *, cursor: int, scroll: float | None = None) -> None:
        self._index = None
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._keys) + 1)
        if scroll is not None:
            self.scroll_to(y=scroll, animate=False, immediate=True)
        self.move_cursor(row=cursor)
        self.refresh()

    # -- the cursor --------------------------------------------------------------------

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on row `row` (clamped), scrolled into view."""
        row = max(0, min(row, len(self._keys) - 1))
        moved = row != self.cursor_row
        self.cursor_row = row
        if scroll:
            self._scroll_to_cursor()
        if moved or not self._keys:
            self.refresh()
        key = self.current_key()
        full = " · ".join(str(c) for c in self._cells[key] if str(c)) if key else ""
        self.tooltip = Text(marks_only(full)) if full else None  # a Text: never markup
        if moved and key is not None:
            self.post_message(self.RowHighlighted(self, row, key))

    def _scroll_to_cursor(self) -> None:
        height = max(self.scrollable_content_region.height - 1, 1)  # less the header
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_page(self, step: int) -> None:
        height = max(self.scrollable_content_region.height - 1, 1)
        self.move_cursor(row=self.cursor_row + step * height)

    def action_edge(self, end: int) -> None:
        self.move_cursor(row=len(self._keys) - 1 if end else 0)

    def action_select_cursor(self) -> None:
        key = self.current_key()
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = int(self.scroll_y) + offset.y - 1
        if row < len(self._keys):
            again = row == self.cursor_row
            self.move_cursor(row=row)
            if again:
                self.action_select_cursor()

    # -- drawing -----------------------------------------------------------------------

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())

    def _restyle(self) -> None:
        self._look += 1
        self.refresh()

    def on_focus(self) -> None:
        self._restyle()

    def on_blur(self) -> None:
        self._restyle()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._keys) + 1)
        self._scroll_to_cursor()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._look += 1

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._fit()
        if widths != self._widths:
            self._widths = widths
            self._lines.clear()
        if y == 0:
            head = (self._look, width, widths)
            if self._head is None or self._head[0] != head:
                self._head = (head, self._header(width))
            return self._head[1]
        row = int(self.scroll_y) + y - 1
        if row >= len(self._keys):
            return Strip.blank(width, self.rich_style)
        key = self._keys[row]
        cursor, odd = row == self.cursor_row, self._stripe[key] % 2
        look = (self._look, width, cursor, odd)
        cached = self._lines.get(key)
        if cached is None or cached[0] != look:
            cached = (look, self._draw(self._cells[key], cursor, odd, width))
            self._lines[key] = cached
        return cached[1]

    def _cut(self, cells: Sequence[Text]) -> Iterator[Text]:
        for value, width in zip(cells, self._widths, strict=False):
            text = value.copy()
            text.truncate(width, overflow="ellipsis", pad=True)
            yield text

    def _line(self, cells: Sequence[Text], width: int, base: Style, over: Style) -> Strip:
        line = Text(no_wrap=True, end="")
        pad = " " * CELL_PADDING
        for text in self._cut(cells):
            line.append(pad)
            line.append_text(text)
            line.append(pad)
        segments = Segment.apply_style(line.render(self.app.console), base, over)
        return Strip(list(segments)).extend_cell_length(width, base).crop(0, width)

    def _draw(self, cells: Sequence[Text], cursor: bool, odd: int, width: int) -> Strip:
        self.renders += 1
        stripe = self.get_component_rich_style(
            "datatable--odd-row" if odd else "datatable--even-row"
        )
        if cursor:  # the cursor's colours lie over the cells' own (DataTable's "css" priority)
            mark = self.get_component_rich_style("datatable--cursor")
            return self._line(
                cells, width, stripe + mark, Style(color=mark.color, bgcolor=mark.bgcolor)
            )
        return self._line(cells, width, stripe, Style())

    def _header(self, width: int) -> Strip:
        style = self.get_component_rich_style("datatable--header")
        labels = [cell(c.label) for c in self.columns]
        return self._line(labels, width, style, Style())


class AuditTable(VirtualTable):
    """The Logs table: Enter opens the record's detail."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Detail")]


class ToolTable(VirtualTable):
    """The Tools table: Enter opens the run form. A virtual table because it is what the
    operator waits for at start: DataTable draws every cell on screen twice in its first
    frames (before and after the columns fit), most of the time to "Tools listed"."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Run form")]
