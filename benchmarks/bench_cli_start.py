"""CLI start-up: wall time of short commands, and how much of it is importing (issue 19).

Each command runs as a real process (`python -m daena_tui ...`) on a small database, with
bytecode compiled beforehand as an installed console has it. The baseline in every round is
a bare `python -c pass`; `--compare DIR` also runs the same commands from another checkout
(for example the commit before a change) in the same rounds, so before and after are
measured side by side. "imports" is `-X importtime`'s total for the command, one extra run.

    python bench_cli_start.py --rounds 7 --compare /tmp/before
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import bench_settings, header, stats_ms, temp_dir

COMMANDS = {
    "--help": ["--help"],
    "tools list": ["tools", "list"],
    "logs --limit 5": ["logs", "--limit", "5"],
    "approvals list": ["approvals", "list"],
    "nodes health": ["nodes", "health"],
}


def env_for(tree: Path | None, db: Path, node_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(DAENA_DB_PATH=str(db), WINDOWS_NODE_URL=node_url)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def wall(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start


def import_ms(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    err = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], env=env, cwd=cwd, capture_output=True, text=True
    ).stderr
    total = 0
    for line in err.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S)", line)
        if found:  # a top-level import (no indent): its cumulative time
            total += int(found.group(1))
    return total / 1000


def main(rounds: int, compare: Path | None) -> None:
    header("CLI start-up: short commands, wall time and imports")
    root = temp_dir("cli-start")
    settings = bench_settings(root)
    here = Path(__file__).parent
    trees = {"now": here.parent}
    if compare is not None:
        trees["compare"] = compare.resolve()
    for tree in trees.values():
        for package in ("engine", "daena_tui"):
            compileall.compile_dir(tree / package, quiet=1)
    print(f"bytecode: compiled before timing; trees: {trees}")
    # A node URL nothing listens on: `nodes health` probes it and is told "refused" at once.
    node_url = "http://127.0.0.1:9"
    cwd = settings.execution_workspace_root
    # A database per tree: another checkout may know fewer migrations than this one.
    envs = {
        name: env_for(tree, settings.daena_db_path.with_suffix(f".{i}.db"), node_url)
        for i, (name, tree) in enumerate(trees.items())
    }
    py = [sys.executable, "-m", "daena_tui"]
    for env in envs.values():  # creates the databases
        wall([*py, "tools", "list"], env, cwd)
    samples: dict[tuple[str, str], list[float]] = {}
    bare: list[float] = []
    for _ in range(rounds):
        bare.append(wall([sys.executable, "-c", "pass"], envs["now"], cwd))
        for command, args in COMMANDS.items():
            for name, env in envs.items():
                samples.setdefault((name, command), []).append(wall([*py, *args], env, cwd))
    print(f"python -c pass: {stats_ms(bare)}")
    for command, args in COMMANDS.items():
        line = []
        for name, env in envs.items():
            times = samples[(name, command)]
            print(
                f"{name:8} daena {command}: {stats_ms(times)}, "
                f"imports {import_ms([*py, *args], env, cwd):.0f} ms"
            )
            line.append(statistics.median(times))
        if len(line) == 2:
            paired = sorted(
                a / b
                for a, b in zip(
                    samples[("now", command)], samples[("compare", command)], strict=True
                )
            )
            print(
                f"  now / compare: ratio of medians {line[0] / line[1]:.2f}x, paired per round "
                f"median {statistics.median(paired):.2f}x "
                f"(min {paired[0]:.2f}, max {paired[-1]:.2f})"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout to time")
    options = parser.parse_args()
    main(options.rounds, options.compare)
