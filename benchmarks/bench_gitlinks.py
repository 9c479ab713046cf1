"""Shell git's submodule check: the index's gitlinks read by `git ls-files --stage` (what
the engine and the node do, so the slim node needs no libgit2) against reading the same
index with pygit2 (what it did before), and the whole `prepare_git` around it.

Interleaved in one run so both see the same machine state. A repository of `--files`
committed files, none of them a gitlink (the common case: every entry is looked at).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pygit2
from common import header, make_repo, stats_ms, temp_dir

from engine.safety.git_hardening import (
    GITLINK_MODE,
    _base_env,
    prepare_git,
    refuse_outside_submodules,
)


def gitlinks_by_pygit2(dot_git: Path) -> list[str]:
    """The previous way: libgit2 reads the index."""
    index = pygit2.Index(str(dot_git / "index"))
    return [e.path for e in index if e.mode == pygit2.enums.FileMode.COMMIT]


def main(files: int, rounds: int) -> None:
    header(f"shell git's gitlink check on {files:,} indexed files")
    ws = temp_dir("gitlinks") / "ws"
    make_repo(ws, files=files)
    base = _base_env(ws)
    assert int(GITLINK_MODE, 8) == pygit2.enums.FileMode.COMMIT
    by_git, by_pygit2, whole = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        refuse_outside_submodules(base, ws, "git")
        by_git.append(time.perf_counter() - start)
        start = time.perf_counter()
        gitlinks_by_pygit2(ws / ".git")
        by_pygit2.append(time.perf_counter() - start)
        start = time.perf_counter()
        prepare_git(["git", "status"], ws)
        whole.append(time.perf_counter() - start)
    print(f"gitlinks by git ls-files --stage: {stats_ms(by_git)}")
    print(f"gitlinks by pygit2.Index (before): {stats_ms(by_pygit2)}")
    print(f"prepare_git(['git', 'status']) in all: {stats_ms(whole)}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    main(args.files, args.rounds)
