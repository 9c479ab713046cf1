"""`daena tasks work` (daena_tui/cli/task_worker.py): a claim worker that drives waiting
tasks, `--once` or until SIGTERM/Ctrl-C, lines or JSON lines; on both backends."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from daena_tui.cli.session import Cli
from daena_tui.cli.task_worker import Worker
from engine import Engine, Settings, TaskStatus
from engine.tasks.playbooks import PlaybookStep
from tests.conftest import make_settings
from tests.engine.tasks.tasks_toolkit import make_registry

ROOT = Path(__file__).resolve().parents[2]


def daena(workspace: Path, db_path: Path, *args: str) -> list[str]:
    where = ["--db", str(db_path), "--workspace", str(workspace), "--operator", "op@test"]
    return [sys.executable, "-m", "daena_tui", *where, "--env-file", "", *args]


def run(workspace: Path, db_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        daena(workspace, db_path, *args), env=env, capture_output=True, text=True, timeout=120
    )


async def inspect_tasks(settings: Settings, count: int) -> list[str]:
    async with Engine.open(settings) as eng:
        return [(await eng.tasks.create_from_playbook("inspect_repo")).id for _ in range(count)]


async def statuses(settings: Settings) -> dict[str, str]:
    async with Engine.open(settings) as eng:
        return {t.id: str(t.status) for t in await eng.tasks.list("all")}


def until(condition: Any, what: str, limit: float = 120.0) -> None:
    """A hang guard for a failing test, not a timing claim."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.1)


async def test_once_drives_one_task_then_none(workspace: Path, db_path: Path) -> None:
    settings = make_settings(workspace, db_path)
    ids = await inspect_tasks(settings, 2)
    driven = []
    for _ in range(2):
        done = await asyncio.to_thread(run, workspace, db_path, "tasks", "work", "--once", "--json")
        assert done.returncode == 0, done.stderr
        *tasks, summary = [json.loads(line) for line in done.stdout.splitlines()]
        assert summary == {"stopped": "--once", "driven": 1, "interrupted": []}
        assert [t["status"] for t in tasks] == ["completed"]
        driven.append(tasks[0]["id"])
    assert sorted(driven) == sorted(ids)  # the oldest first, each once
    done = await asyncio.to_thread(run, workspace, db_path, "tasks", "work", "--once")
    assert done.returncode == 0 and done.stdout.strip() == "no task is waiting for a worker"
    assert await statuses(settings) == {i: "completed" for i in ids}


async def test_a_bad_poll_is_refused_naming_the_option(workspace: Path, db_path: Path) -> None:
    done = await asyncio.to_thread(run, workspace, db_path, "tasks", "work", "--poll", "0")
    assert done.returncode == 2 and "--poll: must be a number of seconds above 0" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_worker_takes_tasks_as_they_come_and_stops_cleanly(
    stop: signal.Signals, workspace: Path, db_path: Path
) -> None:
    settings = make_settings(workspace, db_path)
    first = asyncio.run(inspect_tasks(settings, 1))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        daena(workspace, db_path, "tasks", "work", "--json", "--poll", "0.2"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        until(lambda: asyncio.run(statuses(settings)) == {first[0]: "completed"}, "the first")
        later = asyncio.run(inspect_tasks(settings, 1))  # filed while the worker is idle
        expected = {first[0]: "completed", later[0]: "completed"}
        until(lambda: asyncio.run(statuses(settings)) == expected, "the one filed later")
    finally:
        worker.send_signal(stop)
        out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    *tasks, summary = [json.loads(line) for line in out.splitlines()]
    assert [t["id"] for t in tasks] == first + later
    assert summary == {"stopped": stop.name, "driven": 2, "interrupted": []}
    assert "Traceback" not in err


async def test_a_stop_mid_task_leaves_it_interrupted_not_running(
    workspace: Path, db_path: Path
) -> None:
    """What SIGTERM or Ctrl-C call (`on_signal`) while a step is in flight: the task ends
    `interrupted` under this worker, reported, and the step's tool did not finish."""
    settings = make_settings(workspace, db_path)
    async with Engine.open(settings, registry=make_registry()) as eng:
        steps = [PlaybookStep(tool="wait_low", args={"line": "finished"})]
        task = await eng.tasks.create("held", steps)
        out = _Lines()
        cli = Cli(settings, json_output=True, out=out)  # type: ignore[arg-type]
        worker = Worker(eng.tasks, cli, once=False, poll=0.2)
        running = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 60
        while not (workspace / "started.marker").exists():
            assert time.monotonic() < deadline and not running.done(), "the step never started"
            await asyncio.sleep(0.05)
        worker.on_signal(signal.SIGTERM)
        await asyncio.wait_for(running, 60)
        await worker.finish()
        stopped = await eng.tasks.get(task.id)
        assert stopped.status == TaskStatus.INTERRUPTED and stopped.owner == eng.tasks.runner.owner
    assert not (workspace / "trace.txt").exists()  # the tool was stopped before its line
    *tasks, summary = [json.loads(line) for line in out.text.splitlines()]
    assert [(t["id"], t["status"]) for t in tasks] == [(task.id, "interrupted")]
    assert summary == {"stopped": "SIGTERM", "driven": 0, "interrupted": [task.id]}


class _Lines:
    """What the worker printed."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass
