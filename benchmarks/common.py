"""Shared helpers for the benchmark scripts: timing stats, machine description, temp setup."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pygit2

from engine import Settings, load_settings


def machine() -> str:
    """The machine a figure ran on, read at run time: CPU, cores, RAM, kernel, Python."""
    cpu = "unknown cpu"
    ram = "unknown RAM"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / (1024 * 1024):.1f} GiB RAM"
                break
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {ram}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def stats_ms(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):.3f} ms, p95 {p95:.3f} ms (n={len(ms)})"


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"daena-bench-{prefix}-"))


def make_repo(path: Path, files: int = 3) -> None:
    path.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(path), initial_head="main")
    for i in range(files):
        sub = path / f"dir{i % 20:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"file{i:04d}.txt").write_text(f"line {i}\n" * 20)
    repo.index.add_all()
    repo.index.write()
    sig = pygit2.Signature("bench", "bench@example.com")
    repo.create_commit("HEAD", sig, sig, "init", repo.index.write_tree(), [])


def bench_settings(root: Path, **extra: object) -> Settings:
    ws = root / "ws"
    if not ws.exists():
        make_repo(ws)
    return load_settings(
        env_file=None,
        EXECUTION_WORKSPACE_ROOT=str(ws),
        DAENA_DB_PATH=str(root / "daena.db"),
        DAENA_OPERATOR="bench",
        **extra,
    )


def header(title: str) -> None:
    print(f"# {title}")
    print(f"machine: {machine()}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at start (1, 5, 15 min): {load}  (other work on the same cores)")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"commit: {git.stdout.strip() or 'unknown'}")
