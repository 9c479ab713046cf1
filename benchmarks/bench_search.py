"""Benchmark: `workspace_search` vs `git grep` on a 10,000-file repository, in one run.

The repository is generated (10,000 committed Python-like files, 100 of them holding the
needle once). Both sides search the whole work tree for the same literal and must find the
same 100 files; rounds are interleaved so both see the same machine state. The engine
figure is the full audited run (`Engine.run`: policy, the walk on a thread, audit record);
the bare figure is the search function alone. Also a case-insensitive regex, which takes
RE2's path on the engine side and `git grep -i -E` on git's.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

from common import bench_settings, header, stats_ms, temp_dir

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Engine
from engine.safety.protected import ProtectedPaths
from engine.safety.workspace_query import search
from engine.tools.builtin.search import SearchArgs
from tests.engine.tools.big_repo import NEEDLE, make_big_repo

CASES = {
    "literal": ({"pattern": NEEDLE}, ["git", "grep", "-l", "-F", NEEDLE]),
    "regex -i": (
        {"pattern": "NEEDLE_M.RKER in FILE [0-9]+", "regex": True, "case_sensitive": False},
        ["git", "grep", "-l", "-i", "-E", "NEEDLE_M.RKER in FILE [0-9]+"],
    ),
}


async def main(rounds: int) -> None:
    header("workspace_search vs git grep on 10,000 files")
    root = temp_dir("search")
    ws = make_big_repo(root / "ws")
    settings = bench_settings(root)
    async with Engine.open(settings) as eng:
        for label, (args, argv) in CASES.items():
            engine_s: list[float] = []
            bare_s: list[float] = []
            git_s: list[float] = []
            model = SearchArgs(**args, max_matches=1000)
            for _ in range(rounds):
                start = time.perf_counter()
                result = await eng.run("workspace_search", {**args, "max_matches": 1000})
                engine_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                bare = search(ws, model, ProtectedPaths())
                bare_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                out = subprocess.run(argv, cwd=ws, capture_output=True, text=True, check=True)
                git_s.append(time.perf_counter() - start)
            assert result.result is not None
            engine_files = {m["path"] for m in result.result["matches"]}
            assert engine_files == set(out.stdout.split()) == {m["path"] for m in bare["matches"]}
            assert len(engine_files) == 100 and result.result["files_searched"] == 10_000
            ratio = sorted(engine_s)[len(engine_s) // 2] / sorted(git_s)[len(git_s) // 2]
            print(f"[{label}] engine workspace_search (audited): {stats_ms(engine_s)}")
            print(f"[{label}] search function alone:          {stats_ms(bare_s)}")
            print(f"[{label}] git grep -l:                     {stats_ms(git_s)}")
            print(f"[{label}] ratio engine/git grep (medians): {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    asyncio.run(main(parser.parse_args().rounds))
