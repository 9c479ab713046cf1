"""The exact arguments of a request in a virtual view: only the rows on screen are drawn, so
a 10 MB patch costs what 20 rows cost, and the rows are built in a thread (`load`).

A diff is coloured by row (file header, hunk header, added, deleted: four styles from the
theme), a file's content has its line numbers, a command shows its argv. Every row is made
inert as it is drawn (`inert_line`: controls, escapes, bidi and invisible characters become
marks, drawn reversed). A row wider than the pane ends in a reversed `→` (`<`/`>` scroll
sideways); the border says which rows are shown of how many and the keys for the rest.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from daena_tui.console.arg_lines import Block, arg_blocks
from daena_tui.console.styles import text_color
from engine.safety.display import inert_line

MARK = Style(reverse=True)
TAB_SIZE = 4
# Theme variable and emphasis of each diff row kind: four looks, none shared.
DIFF_STYLE = {
    "file": ("primary", "bold"),
    "hunk": ("accent", "italic"),
    "add": ("success", ""),
    "del": ("error", ""),
    "meta": ("text-muted", ""),
    "ctx": ("", ""),
}
BUILD_IN_THREAD = 64_000  # characters of arguments above which rows are built off the loop


def styled(text: str, style: Style) -> Text:
    """`Text` whose style survives `Text.render` (it keeps only the spans' styles)."""
    out = Text(text)
    out.stylize(style)
    return out


def row_style(app: Any, tag: str) -> Style:
    """The look of one kind of diff row in the current theme."""
    variable, emphasis = DIFF_STYLE[tag]
    return Style(
        color=text_color(app, variable) if variable and variable != "text-muted" else None,
        bold=emphasis == "bold",
        italic=emphasis == "italic",
        dim=variable == "text-muted",
    )


def _args_size(args: dict[str, Any]) -> int:
    return sum(len(v) if isinstance(v, str) else 16 for v in args.values())


class ArgsView(ScrollView, can_focus=True):
    """Rows of `Block`s; `plain()` gives every row as text (the tests read it)."""

    DEFAULT_CSS = """
    ArgsView {
        border: round $border;
        border-title-color: $text-accent;
        border-subtitle-color: $text-warning;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
        &:focus { border: round $accent; }
    }
    """

    BINDINGS = [
        ("greater_than_sign", "scroll_side(1)", "Long lines →"),
        ("less_than_sign", "scroll_side(-1)", "Long lines ←"),
    ]

    def __init__(
        self, *, id: str | None = None, classes: str | None = None, title: str = "arguments"
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.blocks: list[Block] = []
        self._starts: list[int] = []  # first row of each block (its title row)
        self._gutters: list[int] = []
        self._rows = 0
        self._cache: dict[tuple[int, int, int], Strip] = {}
        self._title = title
        self.loaded = 0  # how many loads have finished (tests wait on it)
        self._generation = 0

    def on_mount(self) -> None:
        self.border_title = self._title
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())

    def _restyle(self) -> None:
        self._cache.clear()
        self.refresh()

    # -- content -----------------------------------------------------------------------

    async def load(self, args: dict[str, Any] | None) -> None:
        """Show `args` (None: nothing). Large arguments are split in a thread, so the event
        loop (countdowns, keys, section switches) carries on meanwhile."""
        self._generation += 1
        generation = self._generation
        if args is None:
            blocks: list[Block] = []
        elif _args_size(args) > BUILD_IN_THREAD:
            self.border_subtitle = "reading the arguments…"
            blocks = await asyncio.to_thread(arg_blocks, args)
        else:
            blocks = arg_blocks(args)
        if generation != self._generation:
            return  # a newer request was selected meanwhile
        self.show_blocks(blocks)
        self.loaded += 1

    def show_blocks(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self._starts, self._gutters = [], []
        row, width = 0, 0
        for block in blocks:
            self._starts.append(row)
            gutter = len(str(block.source_lines)) + 3 if block.kind == "numbered" else 2
            self._gutters.append(gutter)
            row += 1 + len(block.rows) + 1  # title, rows, a blank row after
            width = max(width, gutter + block.width + 1, len(block.title) + 1)
        self._rows = max(row - 1, 0)
        self._cache.clear()
        self.virtual_size = Size(width, self._rows)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._say_where()
        self.refresh()

    @property
    def row_count(self) -> int:
        return self._rows

    def _locate(self, row: int) -> tuple[int, int]:
        """(block index, row in block: -1 the title, len(rows) the blank row after)."""
        index = bisect_right(self._starts, row) - 1
        return index, row - self._starts[index] - 1

    # -- drawing -----------------------------------------------------------------------

    def _row_text(self, block: Block, n: int) -> tuple[Text, Text]:
        """(gutter, content) of one row, the content inert."""
        number = block.number(n)
        gutter_width = self._gutters[self.blocks.index(block)]
        dim = Style(dim=True)
        if number < 0:
            run = -number
            mark = styled(f"… {run} blank lines …", MARK)
            return styled(" " * gutter_width, dim), mark
        if block.kind == "numbered":
            label = "↪" if number == 0 else str(number)
            gutter = styled(f"{label:>{gutter_width - 3}} │ ", dim)
        else:
            gutter = styled("↪ " if number == 0 else "  ", dim)
        base = row_style(self.app, block.tag(n)) if block.kind == "diff" else Style()
        text = Text()
        for piece in inert_line(block.rows[n]):
            text.append(piece.text, MARK if piece.mark else None)
        # As the first span (Text.render drops a Text's own style when it has no spans),
        # so the marks' reverse lies on top of the row's colour.
        text.spans.insert(0, Span(0, len(text), base))
        if "\t" in text.plain:
            text.expand_tabs(TAB_SIZE)
        return gutter, text

    def row_plain(self, row: int) -> str:
        index, n = self._locate(row)
        block = self.blocks[index]
        if n < 0:
            return block.title
        if n >= len(block.rows):
            return ""
        gutter, text = self._row_text(block, n)
        return gutter.plain + text.plain

    def plain(self) -> list[str]:
        """Every row as drawn, without styles or cropping (tests, and reading all)."""
        return [self.row_plain(row) for row in range(self._rows)]

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        key = (row, scroll_x, width)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._draw(row, scroll_x, width)
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[key] = cached
        return cached.apply_style(self.rich_style)

    def _draw(self, row: int, scroll_x: int, width: int) -> Strip:
        if row >= self._rows or width <= 0:
            return Strip.blank(width)
        console = self.app.console
        index, n = self._locate(row)
        block = self.blocks[index]
        if n < 0:
            title = styled(block.title, Style(bold=True, underline=True))
            return (
                Strip(title.render(console))
                .crop(scroll_x, scroll_x + width)
                .extend_cell_length(width)
            )
        if n >= len(block.rows):
            return Strip.blank(width)
        gutter, text = self._row_text(block, n)
        left = list(gutter.render(console))
        room = max(width - Strip(left).cell_length, 2)
        content = Strip(text.render(console))
        body = list(content.crop(scroll_x, scroll_x + room))
        if content.cell_length > scroll_x + room:  # more to the right: say so, never hide it
            body = [*list(Strip(body).crop(0, room - 1)), Segment("→", MARK)]
        if scroll_x and content.cell_length:  # and more to the left
            body = [Segment("←", MARK), *Strip(body).crop(1, room)]
        return Strip(left + body).extend_cell_length(width).crop(0, width)

    # -- where am I --------------------------------------------------------------------

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._say_where()

    def on_resize(self) -> None:
        self._cache.clear()
        self._say_where()

    def _say_where(self) -> None:
        """The marker: which rows are shown, and the keys for the rest."""
        total = self._rows
        if not total:
            self.border_subtitle = ""
            return
        top = int(self.scroll_y)
        height = max(self.scrollable_content_region.height, 1)
        last = min(top + height, total)
        # a row wider than the pane ends in a marked arrow; these keys scroll sideways
        side = (
            " · </> sideways"
            if self.virtual_size.width > self.scrollable_content_region.width
            else ""
        )
        if top == 0 and last >= total:
            self.border_subtitle = f"all {total} rows shown{side}"
            return
        more = "PgDn/PgUp more · v all" if last < total else "PgUp back · v all"
        self.border_subtitle = f"rows {top + 1}-{last} of {total:,} · {more}{side}"

    def action_scroll_side(self, step: int) -> None:
        room = max(self.scrollable_content_region.width - 4, 1)
        self.scroll_to(x=max(self.scroll_x + step * room, 0), animate=False)
