"""Benchmark 3: console start vs. an empty Textual app, to first paint and to "Tools listed".

Both run as real processes in a real terminal (tmux, 100x30); the clock runs from the
spawn until `tmux capture-pane` shows the text. One console launch gives two times: its
first frame ("Opening the engine", the placeholder drawn before the engine opens) and
"Tools listed", the Tools table populated with the catalogue (a `git_status` row), which is
what the operator waits for: the stored list (engine/tools/preview.py) when the console can
read one, drawn right after the first frame, else the engine's. The empty app shows one
line. Each round launches both, and each round's ratio is taken against the empty app
sample of the same round (paired).
Target: at most 1.5 times the empty app, for first paint and for Tools listed.

Both run with their bytecode compiled beforehand and PYTHONDONTWRITEBYTECODE unset, as an
installed console runs (pip writes the .pyc files): a tree without them recompiles every
module of the engine at each start, which is not what an operator waits for. `--compare DIR`
also launches the console from another checkout (for example the commit before a change)
in every round, so before and after are measured in one run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import bench_settings, header, stats_ms, temp_dir

FIRST_PAINT = "Opening the engine"
TOOLS_LISTED = "git_status"
"""A row of the Tools table: it is there only once the catalogue is listed."""


def times_to_texts(command: str, needles: list[str], session: str) -> list[float]:
    """Seconds from spawn until each needle is on screen (polled every 5 ms)."""
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    start = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command], check=True
    )
    found: dict[str, float] = {}
    try:
        while len(found) < len(needles):
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            now = time.perf_counter() - start
            for needle in needles:
                if needle not in found and needle in screen:
                    found[needle] = now
            if now > 30:
                raise TimeoutError(f"{needles} never all appeared:\n{screen}")
            time.sleep(0.005)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    # A later needle seen in the same capture as an earlier one was there by then too.
    return [found[n] for n in needles]


def compiled(tree: Path) -> None:
    """Write the bytecode an installed console would have (quietly; already-fresh files
    are skipped)."""
    for package in ("engine", "daena_tui"):
        compileall.compile_dir(tree / package, quiet=1)


def listed_cpu(tree: Path, db: Path, workspace: Path) -> float:
    """CPU seconds of one process until the catalogue is listed (console_listed_cpu.py)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree), DAENA_DB_PATH=str(db))
    script = Path(__file__).parent / "console_listed_cpu.py"
    out = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=workspace, capture_output=True, text=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def textual_cpu() -> float:
    """CPU seconds of a process that only imports Textual (the floor of every console)."""
    code = "import time, textual.app, textual.widgets; print(time.process_time())"
    return float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    )


def console_command(tree: Path, settings_db: Path, workspace: Path) -> str:
    return (
        f"cd {workspace} && env -u PYTHONDONTWRITEBYTECODE PYTHONPATH={tree} "
        f"DAENA_DB_PATH={settings_db} {sys.executable} -m daena_tui"
    )


def main(rounds: int, compare: Path | None) -> None:
    if not shutil.which("tmux"):
        raise SystemExit("tmux is needed for this benchmark")
    header("console start (first paint, Tools listed) vs an empty Textual app")
    root = temp_dir("start")
    settings = bench_settings(root)
    here = Path(__file__).parent
    trees = {"console": here.parent}
    if compare is not None:
        trees[f"console at {compare}"] = compare.resolve()
    for tree in trees.values():
        compiled(tree)
    print(f"bytecode: compiled before timing ({', '.join(str(t) for t in trees.values())})")
    db, workspace = settings.daena_db_path, settings.execution_workspace_root
    # A database per tree: another checkout may know fewer migrations than this one.
    commands = {
        name: console_command(tree, db.with_suffix(f".{i}.db"), workspace)
        for i, (name, tree) in enumerate(trees.items())
    }
    empty = f"env -u PYTHONDONTWRITEBYTECODE {sys.executable} {here / 'empty_app.py'}"
    # A session that outlives the samples keeps one tmux server up (no server start in a sample).
    # Session names of this process only: other sessions may share the tmux server.
    tag = f"bench-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", f"{tag}-keeper", "sleep 3600"], check=True)
    try:
        paints, listed, empties = sample(commands, empty, rounds, tag)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", f"{tag}-keeper"], capture_output=True)
    report(commands, paints, listed, empties)
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    floor: list[float] = []
    for _ in range(rounds):
        for i, (name, tree) in enumerate(trees.items()):
            cpu[name].append(listed_cpu(tree, db.with_suffix(f".{i}.db"), workspace))
        floor.append(textual_cpu())
    print(
        f"CPU until listed, no drawing (console_listed_cpu.py): Textual import alone "
        f"median {statistics.median(floor) * 1000:.0f} ms"
    )
    for name, samples in cpu.items():
        print(
            f"  {name}: median {statistics.median(samples) * 1000:.0f} ms "
            f"(min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f})"
        )
    names = list(cpu)
    if len(names) == 2:
        paired = sorted(a / b for a, b in zip(cpu[names[0]], cpu[names[1]], strict=True))
        print(
            f"  this checkout / the other: paired per round median "
            f"{statistics.median(paired):.2f}x (min {paired[0]:.2f}, max {paired[-1]:.2f})"
        )


def sample(
    commands: dict[str, str], empty: str, rounds: int, tag: str
) -> tuple[dict[str, list[float]], dict[str, list[float]], list[float]]:
    """Each round: every console, then the empty app (interleaved, so load falls on all)."""
    for command in commands.values():  # the first start creates (or migrates) the database
        times_to_texts(command, [TOOLS_LISTED], f"{tag}-warm")
    paints: dict[str, list[float]] = {name: [] for name in commands}
    listed: dict[str, list[float]] = {name: [] for name in commands}
    empties: list[float] = []
    for _ in range(rounds):
        for name, command in commands.items():
            paint, tools = times_to_texts(command, [FIRST_PAINT, TOOLS_LISTED], f"{tag}-console")
            paints[name].append(paint)
            listed[name].append(tools)
        empties.append(times_to_texts(empty, ["empty-app-ready"], f"{tag}-empty")[0])
    return paints, listed, empties


def report(
    commands: dict[str, str],
    paints: dict[str, list[float]],
    listed: dict[str, list[float]],
    empties: list[float],
) -> None:
    print(f"empty Textual app: {stats_ms(empties)}, max {max(empties) * 1000:.0f} ms")
    for name in commands:
        for what, samples in (("first paint", paints[name]), ("Tools listed", listed[name])):
            print(f"{name} {what}: {stats_ms(samples)}, max {max(samples) * 1000:.0f} ms")
            paired = sorted(a / b for a, b in zip(samples, empties, strict=True))
            print(
                f"  {what} / empty app: ratio of medians "
                f"{statistics.median(samples) / statistics.median(empties):.2f}x, paired per "
                f"round median {statistics.median(paired):.2f}x (min {paired[0]:.2f}, max "
                f"{paired[-1]:.2f}) (target <= 1.5x)"
            )
    names = list(commands)
    if len(names) == 2:  # this checkout against the other, round by round
        for what, times in (("first paint", paints), ("Tools listed", listed)):
            paired = sorted(a / b for a, b in zip(times[names[0]], times[names[1]], strict=True))
            print(
                f"{what}, this checkout / the other: paired per round median "
                f"{statistics.median(paired):.2f}x (min {paired[0]:.2f}, max {paired[-1]:.2f})"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--compare", type=Path, metavar="DIR", help="also time the console of this checkout"
    )
    options = parser.parse_args()
    main(options.rounds, options.compare)
