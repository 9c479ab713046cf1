"""Benchmark 5: latency of `list tools` and of an audited dry run while 10 slow tools run.

Two kinds of slow tool, each measured in the same run:

- sleeping: ten `shell_exec sleep 3` runs in flight (real child processes, no CPU here);
- CPU-bound: ten loops, each running the real (audited) `git_status` one after another on
  a repository with many files (`--files`, 5,000 by default, 10 % of them modified), so
  the process is busy with pygit2 work and the results it turns into Python objects.

Meanwhile the calls an operator or agent makes are timed, and the same calls with nothing
running first, in the same run (what the slow tools add). Target: ≤ 20 ms median each.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from common import bench_settings, header, make_repo, stats_ms, temp_dir

from engine import Engine
from engine.safety import git_answers
from engine.storage import database


async def sample(eng: Engine, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """`list tools`; a `shell_exec git status` dry run (its checks need git's listing of the
    index's gitlinks and of the configuration's names: kept while the git directory's files
    are unchanged, engine/safety/git_answers.py); a `git_status` dry run (no git child)."""
    list_samples, dry_samples, plain_samples = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        await eng.list_tools()
        list_samples.append(time.perf_counter() - start)
        start = time.perf_counter()
        await eng.run("shell_exec", {"command": "git status"}, dry_run=True)
        dry_samples.append(time.perf_counter() - start)
        start = time.perf_counter()
        await eng.run("git_status", dry_run=True)
        plain_samples.append(time.perf_counter() - start)
    return list_samples, dry_samples, plain_samples


def show(label: str, samples: tuple[list[float], list[float], list[float]]) -> None:
    listed, dry, plain = samples
    print(f"[{label}] list tools: {stats_ms(listed)}")
    print(f"[{label}] audited dry run, shell_exec git status: {stats_ms(dry)}")
    print(f"[{label}] audited dry run, git_status: {stats_ms(plain)}")


async def idle(eng: Engine, rounds: int) -> None:
    show("nothing running", await sample(eng, rounds))


async def sleeping(eng: Engine, rounds: int) -> None:
    slow = [
        asyncio.create_task(eng.run("shell_exec", {"command": "sleep 3", "timeout_sec": 30}))
        for _ in range(10)
    ]
    await asyncio.sleep(0.3)
    samples = await sample(eng, rounds)
    still_running = sum(not t.done() for t in slow)
    results = await asyncio.gather(*slow)
    assert all(r.status == "ok" for r in results), [r.error for r in results if r.status != "ok"]
    print(f"[sleeping] slow runs still in flight when sampling ended: {still_running}/10")
    show("sleeping", samples)


async def cpu_bound(eng: Engine, rounds: int) -> None:
    stop = asyncio.Event()
    done = [0] * 10

    async def loop(i: int) -> None:
        while not stop.is_set():
            result = await eng.run("git_status")
            assert result.status == "ok", result.error
            done[i] += 1

    loops = [asyncio.create_task(loop(i)) for i in range(10)]
    await asyncio.sleep(0.5)
    start = time.perf_counter()
    samples = await sample(eng, rounds)
    elapsed = time.perf_counter() - start
    still_running = sum(not t.done() for t in loops)
    stop.set()
    await asyncio.gather(*loops)
    print(
        f"[cpu-bound] git_status loops running when sampling ended: {still_running}/10, "
        f"{sum(done)} git_status runs in all ({sum(done) / (elapsed + 0.5):,.0f}/s)"
    )
    show("cpu-bound", samples)


async def settle(git_dir: Path) -> None:
    """Start once the index is older than `git_answers.SETTLED_SEC`, as a workspace's index
    is between two commands: shell git asks git again about an index changed more recently
    (a same-tick rewrite could otherwise hide), so the first seconds after `make_repo` would
    measure that, not the steady state."""
    stamp = (git_dir / "index").stat()
    age = time.time() - max(stamp.st_mtime, stamp.st_ctime)
    if age <= git_answers.SETTLED_SEC:
        await asyncio.sleep(git_answers.SETTLED_SEC - age + 0.1)
    print(f"index settled: last written more than {git_answers.SETTLED_SEC:g} s before sampling")


def modify(ws: Path, every: int) -> int:
    changed = 0
    for i, path in enumerate(sorted(ws.rglob("file*.txt"))):
        if i % every == 0:
            path.write_text(path.read_text() + "changed\n")
            changed += 1
    return changed


async def main(rounds: int, files: int, synchronous: str) -> None:
    header("list tools / dry run while 10 slow tools run (sleeping, then CPU-bound)")
    database.SYNCHRONOUS = synchronous
    print(f"synchronous={synchronous} (FULL: every commit waits for an fsync; see figure 1)")
    root = temp_dir("slow")
    make_repo(root / "ws", files=files)
    changed = modify(root / "ws", 10)
    print(f"repository: {files} files, {changed} modified")
    settings = bench_settings(root, SHELL_ALLOWLIST='["sleep 3", "git status"]')
    await settle(root / "ws" / ".git")
    async with Engine.open(settings) as eng:
        await eng.update_config({"approval_mode": "auto"})
        await idle(eng, rounds)
        await sleeping(eng, rounds)
        await cpu_bound(eng, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument(
        "--synchronous",
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="NORMAL separates the disk's fsync latency from the engine's own",
    )
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.files, args.synchronous))
