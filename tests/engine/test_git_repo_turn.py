"""Concurrent git runs wait for the repository in the event loop, not in executor threads
(engine/tools/builtin/git.py `repo_turn`): ten `git_status` runs at once must leave the
loop's default executor free for everything else the process hands to a thread.

The first status is held inside its thread by a gate, so the runs park wherever they wait
(a thread, the executor's queue, or the repository's turn); then one more job needs a
thread of the two the executor has."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine import Engine
from engine.tools.builtin import git
from tests.conftest import make_repo, make_settings


async def test_concurrent_git_status_leaves_the_default_executor_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    make_repo(ws)
    (ws / "README.md").write_text("changed\n")
    gate = threading.Event()
    entered = 0
    real_status = git.status

    def gated_status(workspace: Path) -> dict[str, Any]:
        nonlocal entered
        entered += 1
        gate.wait(60)
        return real_status(workspace)

    monkeypatch.setattr(git, "status", gated_status)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    asyncio.get_running_loop().set_default_executor(pool)

    def parked() -> int:
        turns_by_loop = getattr(git, "_TURNS", {})
        locks = [lock for turns in turns_by_loop.values() for lock in turns.values()]
        waiting = sum(len(lock._waiters or ()) for lock in locks)  # type: ignore[attr-defined]
        return entered + pool._work_queue.qsize() + waiting

    try:
        async with Engine.open(make_settings(ws, tmp_path / "d.db")) as eng:
            runs = [asyncio.create_task(eng.run("git_status")) for _ in range(10)]
            deadline = time.monotonic() + 60
            while parked() < 10:  # every run waits somewhere now
                assert time.monotonic() < deadline, parked()
                await asyncio.sleep(0.01)
            other = await asyncio.wait_for(asyncio.to_thread(lambda: "done"), 30)
            assert other == "done" and not gate.is_set()  # it did not wait for the git runs
            gate.set()
            results = await asyncio.gather(*runs)
        assert all(r.status == "ok" and r.result["files"] for r in results), results
    finally:
        gate.set()
        pool.shutdown(wait=True)
