"""Benchmark 2: `git_status` through the engine vs. spawning `git status --short`.

A generated repository of 1,000 committed files with 100 of them modified. The engine
figure includes the whole audited run (policy, pygit2 status on a thread, audit record).
Target: engine ≤ the subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time

from common import bench_settings, header, make_repo, stats_ms, temp_dir

from engine import Engine


async def main(rounds: int) -> None:
    header("git_status on 1,000 files, 100 modified")
    root = temp_dir("git")
    ws = root / "ws"
    make_repo(ws, files=1000)
    for path in sorted(ws.rglob("file*.txt"))[:100]:
        path.write_text(path.read_text() + "changed\n")
    settings = bench_settings(root)
    async with Engine.open(settings) as eng:
        result = await eng.run("git_status")
        assert result.result is not None and len(result.result["files"]) == 100
        # Interleaved, so both see the same machine state.
        engine_samples, git_samples = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            await eng.run("git_status")
            engine_samples.append(time.perf_counter() - start)
            start = time.perf_counter()
            out = subprocess.run(
                ["git", "status", "--short"], cwd=ws, capture_output=True, check=True
            )
            git_samples.append(time.perf_counter() - start)
    assert out.stdout.count(b"\n") == 100
    print(f"engine git_status (audited): {stats_ms(engine_samples)}")
    print(f"subprocess git status --short: {stats_ms(git_samples)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=100)
    asyncio.run(main(parser.parse_args().rounds))
