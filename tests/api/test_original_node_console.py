"""The console's Nodes section shows the original node (health `{status, workspace_root}`
only) as ok, saying version and tools are unknown rather than inventing them."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from daena_tui.console.app import create_app
from tests.api.compat_support import original_node
from tests.conftest import make_repo
from tests.tui.conftest import settings_for, started, wait_for


async def test_nodes_section_shows_the_original_node_ok_with_unknowns(tmp_path: Path) -> None:
    make_repo(tmp_path / "ws")
    with original_node() as url:
        settings = settings_for(tmp_path / "d.db", tmp_path / "ws").model_copy(
            update={"windows_node_url": url}
        )
        app = create_app(settings)  # nodes are probed at start
        async with app.run_test(size=(140, 30)) as pilot:
            await started(pilot)
            await pilot.press("6")
            table = app.screen.query_one("#nodes-table", DataTable)

            def shown() -> bool:
                if "windows" not in table.rows:
                    return False
                row = [str(cell) for cell in table.get_row("windows")]
                return "ok" in row and any("version and tools unknown" in c for c in row)

            await wait_for(pilot, shown, "the original node shown ok, version and tools unknown")
