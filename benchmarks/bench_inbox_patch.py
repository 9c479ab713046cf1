"""Benchmark 20: the inbox with a 10 MB patch selected: time until its rows are shown, the
longest the event loop was held meanwhile, and a page down through it, against a 1 KB patch
in the same run.

The console runs headless (Textual's pilot, 80x24) with the inbox open; another process
then writes one pending `apply_patch` request to the same database. A 10 ms interval timer
records the gaps between its ticks while the console lists the request, selects it and
builds its rows: the longest gap is how long the loop (countdowns, keys, section switches)
was held. The time to rows shown starts when the writer process has exited. Before
issue 20 a 2 MB patch froze the console for 10-16 s.

    python benchmarks/bench_inbox_patch.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import bench_settings, header, stats_ms, temp_dir  # noqa: E402

import engine  # noqa: E402
from daena_tui.console.app import create_app  # noqa: E402
from daena_tui.console.arg_lines import arg_blocks  # noqa: E402
from daena_tui.console.preferences import Preferences  # noqa: E402
from daena_tui.console.widgets.args_view import ArgsView  # noqa: E402

TEN_MB = 10 * 1024 * 1024
HUNK = "".join(f"+line {n} of a generated file, padded to a typical length\n" for n in range(40))
BODY = "--- a/big.txt\n+++ b/big.txt\n@@ -0,0 +1,40 @@\n" + HUNK


def patch(size: int) -> str:
    return BODY * (size // len(BODY) + 1)


async def seed(settings: engine.Settings, text: str) -> None:
    async with engine.Engine.open(settings) as eng, eng.db.transaction() as tx:
        await eng.approvals.create_request(
            tx,
            tool="apply_patch",
            canonical_args={"patch": text},
            requester="agent",
            reason="benchmark",
            task_id=None,
            trace_id="bench",
        )


async def one_round(size: int, root: Path) -> tuple[float, float, float]:
    """(seconds to rows shown, longest loop gap in seconds, seconds for 20 page downs).

    The inbox is open and idle first; then another process writes the request, so the
    figures cover only what the request costs the console (not the first show of the
    section)."""
    settings = bench_settings(root, DAENA_VOICE_MUTED="true")
    app = create_app(
        settings,
        probe_nodes=False,
        preferences=Preferences(root / "prefs.json"),
        initial_section="approvals",
    )
    gaps: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        while app.engine is None or app.current_mode != "approvals":
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        app.set_interval(0.01, tick)
        writer = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--seed", str(settings.daena_db_path), str(size)
        )
        await writer.wait()
        start = time.perf_counter()  # the request is in the database: the console's turn
        view = app.screen.query_one("#approval-args", ArgsView)
        while view.row_count < 10:
            await pilot.pause(0.01)
        shown = time.perf_counter() - start
        paging = time.perf_counter()
        for _ in range(20):
            await pilot.press("pagedown")
        await pilot.pause()
        paged = time.perf_counter() - paging
        stall = max(gaps, default=0.0)  # while the request arrived and was shown
        gaps.clear()
        last[0] = reading = time.perf_counter()
        await pilot.press("v")  # every argument, full screen
        while not app.screen.query("#request-view-args"):
            await pilot.pause(0.01)
        full = app.screen.query_one("#request-view-args", ArgsView)
        while full.row_count < 10:
            await pilot.pause(0.01)
        read_all.append((time.perf_counter() - reading, max(gaps, default=0.0)))
    return shown, stall, paged


read_all: list[tuple[float, float]] = []  # (seconds to `v` shown, longest gap meanwhile)


def seed_from_here(db: str, size: int) -> None:
    """`--seed DB SIZE`: write the request as another process (the agent's side) would."""
    root = Path(db).parent
    asyncio.run(seed(bench_settings(root), patch(size)))  # the same daena.db


def main(rounds: int) -> None:
    header("inbox: a 10 MB patch selected vs a 1 KB one (headless, 80x24)")
    for label, size in (("1 KB", 1024), ("10 MB", TEN_MB)):
        shown: list[float] = []
        stall: list[float] = []
        paged: list[float] = []
        for n in range(rounds):
            s, g, p = asyncio.run(one_round(size, temp_dir(f"inbox-{n}")))
            shown.append(s)
            stall.append(g)
            paged.append(p)
        built: list[float] = []
        text = patch(size)
        for _ in range(rounds):
            start = time.perf_counter()
            arg_blocks({"patch": text})
            built.append(time.perf_counter() - start)
        print(f"{label}: rows built (arg_blocks, in a worker thread) {stats_ms(built)}")
        print(f"{label}: rows shown {stats_ms(shown)}")
        print(f"{label}: longest event-loop gap (10 ms timer) {stats_ms(stall)}")
        print(f"{label}: 20 page downs {stats_ms(paged)}")
        print(f"{label}: v (read all) shown {stats_ms([r for r, _ in read_all])}")
        print(f"{label}: longest gap while v opens {stats_ms([g for _, g in read_all])}")
        read_all.clear()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", nargs=2, metavar=("DB", "SIZE"), help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.seed:
        seed_from_here(parsed.seed[0], int(parsed.seed[1]))
    else:
        main(parsed.rounds)
