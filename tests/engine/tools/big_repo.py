"""A real git repository of many files, made fast: files written directly, then one
`git add`/`git commit` subprocess (the index of 10,000 files in one go)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

NEEDLE = "needle_marker"


def make_big_repo(root: Path, files: int = 10_000, *, commit: bool = True) -> Path:
    """`files` Python-like text files in 100 directories of 10 subdirectories; every 100th
    file holds `NEEDLE` once, on line 7. Returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    body = "".join(f"def function_{n}(value):\n    return value * {n}\n\n" for n in range(10))
    for i in range(files):
        sub = root / f"pkg{i % 100:02d}" / f"mod{(i // 100) % 10}"
        if i < 1000:
            sub.mkdir(parents=True, exist_ok=True)
        text = body
        if i % 100 == 0:
            lines = body.splitlines(keepends=True)
            lines[6] = f"# {NEEDLE} in file {i}\n"
            text = "".join(lines)
        (sub / f"file{i:05d}.py").write_text(text)
    if commit:
        env = {
            **os.environ,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }
        for argv in (
            ["git", "init", "-q", "-b", "main"],
            ["git", "add", "-A"],
            ["git", "commit", "-q", "-m", "many files"],
        ):
            subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True)
    return root
