"""Benchmark 4: the console's Logs screen at 1,000,000 audit records.

Opens the real console (headless, Textual's test driver) on a database made by
`make_audit_db.py`, each time in a fresh process, and times:
- the Logs screen from the section switch until its first page is in the table, once the
  console has settled (1 s after the Tools screen) and right after the Tools screen appears
  (while start-up work is still running);
- each filter from pressing Enter until the filtered page is in the table: tool filters
  (served by the `(tool, id)` index) and text filters of every kind: a rare term, a term
  that matches nothing, a common term, a two-character term (too short for the trigram
  index: scanned), and text combined with a tool, with "since 1h" and with "until 5d".
Peak RSS of this process is reported at the end. Targets: open and filter ≤ 300 ms,
RSS ≤ 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import header, stats_ms
from textual.widgets import DataTable, Input

from daena_tui.console.app import create_app
from engine import AuditFilter, load_settings

# (label, tool, text, since, until): the Logs screen's filter fields
FILTERS = [
    ("tool apply_patch", "apply_patch", "", "", ""),
    ("tool shell_exec", "shell_exec", "", "", ""),
    ("text, rare ('module_4242.py', 200 matches)", "", "module_4242.py", "", ""),
    ("text, no match ('no-such-text')", "", "no-such-text", "", ""),
    ("text, common ('alice', 1 in 3)", "", "alice", "", ""),
    ("text, 2 characters ('_9', scanned)", "", "_9", "", ""),
    ("text + tool ('failed: code 3' in shell_exec)", "shell_exec", "failed: code 3", "", ""),
    ("text + since ('alice' in the last hour)", "", "alice", "1h", ""),
    ("text + until ('alice' before 5 days ago)", "", "alice", "", "5d"),
]


async def wait_for(pilot: Any, condition: Callable[[], bool], limit: float = 30.0) -> float:
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > limit:
            raise TimeoutError("condition not met")
        await pilot.pause(0.001)
    return time.perf_counter() - start


async def one_console(db: Path, ws: Path, settle: float, samples: dict[str, list[float]]) -> None:
    settings = load_settings(env_file=None, DAENA_DB_PATH=str(db), EXECUTION_WORKSPACE_ROOT=str(ws))
    app = create_app(settings, initial_section="tools")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ToolsScreen")
        await pilot.pause(settle)
        start = time.perf_counter()
        app.action_section("logs")  # what key 5 does, without the test driver's idle wait

        def table() -> DataTable[Any]:
            return app.screen.query_one("#logs-table", DataTable)

        def rows() -> int:
            try:
                return table().row_count
            except Exception:
                return 0

        await wait_for(pilot, lambda: rows() > 0)
        label = "open, settled" if settle else "open, right after start"
        samples[label].append(time.perf_counter() - start)
        if not settle:
            return
        screen: Any = app.screen
        for label, tool, text, since, until in FILTERS:
            fields = {"tool": tool, "text": text, "since": since, "until": until}
            for name, value in fields.items():
                app.screen.query_one(f"#filter-{name}", Input).value = value
            field = app.screen.query_one("#filter-text", Input)
            field.focus()
            await pilot.pause()
            loads = screen.generation
            begin = time.perf_counter()
            await pilot.press("enter")
            # A load bumps `generation` twice; the table is filled in the same step.
            await wait_for(pilot, lambda: screen.generation >= loads + 2)  # noqa: B023
            samples[label].append(time.perf_counter() - begin)
            applied: AuditFilter = screen.filters
            assert (applied.tool or "", applied.text or "") == (tool, text), label
            assert (applied.since is None, applied.until is None) == (not since, not until)
            shown = [screen.records[r] for r in range(min(rows(), 100))]
            assert all(applied.matches(r) for r in shown), label
            assert (len(shown) == 0) == (text == "no-such-text"), label


def launch(db: Path, ws: Path, settle: float) -> dict[str, list[float]]:
    """One console in a fresh process (an operator's console starts cold), its samples."""
    out = subprocess.run(
        [sys.executable, __file__, str(db), "--workspace", str(ws), "--one", str(settle)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, list[float]] = json.loads(out.splitlines()[-1])
    return result


def main(db: Path, ws: Path, runs: int) -> None:
    header("Logs screen at 1,000,000 audit records")
    samples: dict[str, list[float]] = defaultdict(list)
    peaks = []
    for _ in range(runs):
        for settle in (1.0, 0.0):
            for label, values in launch(db, ws, settle).items():
                samples[label] += values
    for label, values in samples.items():
        if label == "peak_rss_mb":
            peaks = values
        else:
            print(f"{label}: {stats_ms(values)}")
    print(f"peak RSS of a console process: {max(peaks):.0f} MB")


def one(db: Path, ws: Path, settle: float) -> None:
    samples: dict[str, list[float]] = defaultdict(list)
    asyncio.run(one_console(db, ws, settle, samples))
    samples["peak_rss_mb"] = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
    print(json.dumps(samples))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path, help="made by make_audit_db.py")
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5, help="console launches of each kind")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is None:
        main(args.db, args.workspace, args.runs)
    else:
        one(args.db, args.workspace, args.one)
