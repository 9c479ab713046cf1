"""Benchmark 3: console start to first paint vs. an empty Textual app.

Both run as real processes in a real terminal (tmux, 100x30); the clock runs from the
spawn until `tmux capture-pane` shows the text: for the console its first frame
("Opening the engine") and, separately, the Tools catalogue ready to use (`git_status`
listed); for the empty app its one line. Target: first paint at most 1.5 times the empty app.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import bench_settings, header, stats_ms, temp_dir


def time_to_text(command: str, needle: str, session: str) -> float:
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    start = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command], check=True
    )
    try:
        while True:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            if needle in screen:
                return time.perf_counter() - start
            if time.perf_counter() - start > 30:
                raise TimeoutError(f"{needle!r} never appeared:\n{screen}")
            time.sleep(0.005)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def main(rounds: int) -> None:
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed for this benchmark")
    header("console start to first paint vs an empty Textual app")
    root = temp_dir("start")
    settings = bench_settings(root)
    here = Path(__file__).parent
    py = sys.executable
    console = (
        f"cd {settings.execution_workspace_root} && DAENA_DB_PATH={settings.daena_db_path} "
        f"{py} -m daena_tui"
    )
    empty = f"{py} {here / 'empty_app.py'}"
    # A session that outlives the samples keeps one tmux server up (no server start in a sample).
    subprocess.run(["tmux", "new-session", "-d", "-s", "bench-keeper", "sleep 3600"], check=True)
    time_to_text(console, "git_status", "bench-warm")  # first start creates the database
    consoles, ready, empties = [], [], []
    for _ in range(rounds):
        consoles.append(time_to_text(console, "Opening the engine", "bench-console"))
        ready.append(time_to_text(console, "git_status", "bench-ready"))
        empties.append(time_to_text(empty, "empty-app-ready", "bench-empty"))
    subprocess.run(["tmux", "kill-session", "-t", "bench-keeper"], capture_output=True)
    for name, samples in (
        ("console first paint", consoles),
        ("console Tools ready", ready),
        ("empty Textual app", empties),
    ):
        print(f"{name}: {stats_ms(samples)}, max {max(samples) * 1000:.0f} ms")
    print(f"first paint ratio: {statistics.median(consoles) / statistics.median(empties):.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    main(parser.parse_args().rounds)
