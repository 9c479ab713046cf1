"""Benchmark 4: the console's Logs screen at 1,000,000 audit records.

Opens the real console (headless, Textual's test driver) on a database made by
`make_audit_db.py`, and times: the Logs screen from app start until its first page is on
screen, and each filter from pressing Enter until the filtered page is on screen. Peak RSS
of this process is reported at the end. Targets: open and filter ≤ 300 ms, RSS ≤ 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from pathlib import Path

from common import header
from textual.widgets import DataTable, Input

from daena_tui.app import create_app
from engine import load_settings


async def wait_for(pilot, condition, limit: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > limit:
            raise TimeoutError("condition not met")
        await pilot.pause(0.001)
    return time.perf_counter() - start


async def main(db: Path, ws: Path) -> None:
    header("Logs screen at 1,000,000 audit records")
    settings = load_settings(env_file=None, DAENA_DB_PATH=str(db), EXECUTION_WORKSPACE_ROOT=str(ws))
    app = create_app(settings, initial_section="tools")
    start = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ToolsScreen")
        print(f"app start to the Tools screen: {(time.perf_counter() - start) * 1000:.0f} ms")
        await pilot.pause(1.0)  # let start-up work settle (sections load in the background)
        start = time.perf_counter()
        app.action_section("logs")  # what key 5 does, without the test driver's idle wait

        def table() -> DataTable:  # type: ignore[type-arg]
            return app.screen.query_one("#logs-table", DataTable)

        def rows() -> int:
            try:
                return table().row_count
            except Exception:
                return 0

        await wait_for(pilot, lambda: rows() > 0)
        opened = (time.perf_counter() - start) * 1000
        print(f"open the Logs screen (section switch to its first page shown): {opened:.0f} ms")

        async def apply(field: str, value: str, check) -> None:  # type: ignore[no-untyped-def]
            widget = app.screen.query_one(f"#{field}", Input)
            widget.value = value
            widget.focus()
            await pilot.pause()
            first = table().get_row_at(0) if rows() else None
            begin = time.perf_counter()
            await pilot.press("enter")
            await wait_for(pilot, lambda: rows() > 0 and table().get_row_at(0) != first and check())
            print(f"filter {field}={value!r}: {(time.perf_counter() - begin) * 1000:.0f} ms")
            widget.value = ""

        def column(index: int) -> set[str]:
            return {str(table().get_row_at(r)[index]) for r in range(min(rows(), 20))}

        await apply("filter-tool", "apply_patch", lambda: column(4) == {"apply_patch"})
        await apply("filter-tool", "shell_exec", lambda: column(4) == {"shell_exec"})
        await apply("filter-text", "module_4242.py", lambda: rows() > 0)
        await apply("filter-tool", "web_scrape_bs4", lambda: column(4) == {"web_scrape_bs4"})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the console process: {peak:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path, help="made by make_audit_db.py")
    parser.add_argument("--workspace", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.workspace))
