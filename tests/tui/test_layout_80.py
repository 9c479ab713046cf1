"""At 80 columns every section fits: the footer shows whole hints only (none cut, none
under the palette key), no table has a horizontal scrollbar, and a cut cell ends in `…`
(its full text is the row's tooltip). Seeded with the snapshot data plus long values."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable
from textual.widgets._footer import FooterKey

from daena_tui.console.sections import SECTIONS
from daena_tui.console.widgets.virtual_table import AuditTable, VirtualTable

from .conftest import wait_for
from .snapshot_data import seeded_app

WIDTH = 80


async def shown(pilot: Pilot[int], mode: str) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: getattr(app, "engine", None) is not None, "engine open")
    await pilot.press(f"alt+{next(s.key for s in SECTIONS if s.mode == mode)}")
    await wait_for(pilot, lambda: app.current_mode == mode, f"{mode} shown")
    await wait_for(pilot, lambda: app.status.ready, "header status")
    tables: list[DataTable[object] | VirtualTable] = [
        *app.screen.query(DataTable),
        *app.screen.query(VirtualTable),
    ]
    for table in tables:
        if table.display and table.id in ("tools-table", "logs-table", "inbox", "nodes-table"):
            await wait_for(pilot, lambda t=table: t.row_count > 0, f"{table.id} rows")
    await pilot.pause(0.2)
    # Under load the footer may not be laid out yet (every key 0 wide): wait for its layout,
    # not for a fixed pause. A key that stays 0 wide still fails, by the wait's timeout.
    await wait_for(
        pilot,
        lambda: all(k.region.width for k in app.screen.query(FooterKey)),
        f"{mode} footer laid out",
    )


def footer_problems(pilot: Pilot[int], width: int = WIDTH) -> list[str]:
    screen = pilot.app.screen
    keys = list(screen.query(FooterKey))
    palette = [k for k in keys if k.has_class("-command-palette")]
    limit = palette[0].region.x if palette else width
    problems = []
    for key in keys:
        region = key.region
        label = f"{key.key_display} {key.description}".strip()
        if key in palette:
            if region.right > width:
                problems.append(f"palette key cut: {label}")
            continue
        if region.width == 0 or region.right > limit:
            problems.append(f"{label!r} ends at {region.right}, room up to {limit}")
    return problems


@pytest.mark.parametrize("mode", [s.mode for s in SECTIONS])
async def test_a_section_fits_80_columns(mode: str, workspace: Path) -> None:
    app = await seeded_app(workspace, "tools")
    async with app.run_test(size=(WIDTH, 24)) as pilot:
        await shown(pilot, mode)
        assert footer_problems(pilot) == []
        keys = {k.key_display for k in app.screen.query(FooterKey)}
        assert "^q" in keys and "?" in keys
        for table in app.screen.query(DataTable):
            if table.display:
                assert not table.show_horizontal_scrollbar, f"{table.id} scrolls sideways"
                assert table.virtual_size.width <= table.size.width, table.id


async def test_cut_cells_end_in_an_ellipsis_and_the_row_is_the_tooltip(workspace: Path) -> None:
    app = await seeded_app(workspace, "logs")
    async with app.run_test(size=(WIDTH, 24)) as pilot:
        await shown(pilot, "logs")
        table = app.screen.query_one("#logs-table", AuditTable)
        screen = "\n".join(s.text for s in app.screen._compositor.render_strips())
        assert "approval_de…" in screen or "approval_den…" in screen  # cut, and it says so
        assert "pending_approval" not in screen and "pending_…" in screen
        row = next(k for k in table.rows if "denied" in str(table.get_row(k)))
        table.move_cursor(row=table.get_row_index(row))
        await pilot.pause()
        assert table.tooltip is not None and "approval_denied" in str(table.tooltip)


@pytest.mark.parametrize("width", [100, 120])
async def test_the_footer_never_splits_a_hint_at_wider_sizes(width: int, workspace: Path) -> None:
    """At 100 columns the palette hint once read `^ppalet te` (keys ran under it)."""
    app = await seeded_app(workspace, "tools")
    async with app.run_test(size=(width, 30)) as pilot:
        for mode in [s.mode for s in SECTIONS]:
            await shown(pilot, mode)
            assert footer_problems(pilot, width) == [], mode
