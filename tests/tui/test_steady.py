"""update_steady: a line updated often is repainted without a layout pass, and still laid
out anew when its length changes (a longer text may wrap onto another line)."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from daena_tui.console.widgets.steady import update_steady

from .conftest import painted, wait_for


class OneLine(App[None]):
    CSS = "#line { width: 10; height: auto; }"

    def compose(self) -> ComposeResult:
        yield Static(id="line")


async def test_same_length_repaints_and_a_longer_text_is_laid_out_again() -> None:
    app = OneLine()
    async with app.run_test(size=(40, 10)) as pilot:
        line = app.query_one("#line", Static)
        update_steady(line, Text("9:59"))
        await wait_for(pilot, lambda: painted(line) == "9:59", "first text")
        update_steady(line, Text("9:58"))  # as long: no layout, still painted
        await wait_for(pilot, lambda: painted(line) == "9:58", "same length")
        update_steady(line, Text("[b]x[/b] wraps here"))  # longer: two lines, never markup
        await wait_for(pilot, lambda: line.outer_size.height == 2, "laid out again")
        assert painted(line) == "[b]x[/b]\nwraps here"
