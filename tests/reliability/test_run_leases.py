"""A started run always gets an outcome (engine/leases.py): a `run_start` whose process ended before
recording the outcome (killed, or a console quit mid-run) is given a `run_interrupted`
record by the next process that opens the database, exactly once, and never while the
process that started it is still alive (even stopped)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine import Engine, Settings
from engine.liveness import process_token
from tests.support.raw_db import raw_db

SCRIPT = Path(__file__).resolve().parent / "lease_run_script.py"
Start = Callable[[str], "subprocess.Popen[str]"]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pids")


@pytest.fixture
def start_run(settings: Settings, workspace: Path) -> Iterator[Start]:
    procs: list[subprocess.Popen[str]] = []

    def start(mode: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(settings.daena_db_path), str(workspace), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "started", proc.stderr.read() if proc.stderr else ""
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


async def run_records(settings: Settings) -> list[dict[str, object]]:
    async with Engine.open(settings) as eng:
        rows = await eng.db.fetchall(
            "SELECT id, action, status, tool, trace_id, error FROM audit "
            "WHERE action IN ('run_start', 'run', 'run_interrupted') ORDER BY id"
        )
        return [dict(r) for r in rows]


def assert_one_interrupted_outcome(rows: list[dict[str, object]], pid: int) -> None:
    starts = [r for r in rows if r["action"] == "run_start"]
    assert len(starts) == 1
    outcomes = [r for r in rows if r["trace_id"] == starts[0]["trace_id"]][1:]
    assert [(r["action"], r["status"], r["tool"]) for r in outcomes] == [
        ("run_interrupted", "interrupted", "wait_medium")
    ]
    error = str(outcomes[0]["error"])
    assert f"pid {pid}" in error and "it had started" in error


async def test_a_killed_processes_started_run_gets_an_interrupted_outcome(
    settings: Settings, start_run: Start, workspace: Path
) -> None:
    proc = start_run("kill")
    proc.send_signal(signal.SIGSTOP)  # alive but not answering: its run may still be going
    try:
        rows = await run_records(settings)
        assert [r["action"] for r in rows] == ["run_start"]  # a live owner is never reaped
    finally:
        proc.send_signal(signal.SIGCONT)
    proc.kill()
    proc.wait(timeout=30)
    rows = await run_records(settings)  # this open reaps the orphan
    assert_one_interrupted_outcome(rows, proc.pid)
    assert await run_records(settings) == rows  # exactly once
    async with Engine.open(settings) as eng:
        assert (await eng.audit.verify()).ok
        assert await eng.db.fetchall("SELECT * FROM run_leases") == []


async def test_quitting_mid_run_leaves_no_run_without_an_outcome(
    settings: Settings, start_run: Start
) -> None:
    proc = start_run("quit")
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    rows = await run_records(settings)
    assert_one_interrupted_outcome(rows, proc.pid)
    assert not (settings.execution_workspace_root / "trace.txt").exists()  # cancelled early


async def test_a_lease_whose_pid_was_reused_is_reaped(settings: Settings, start_run: Start) -> None:
    """The owner died and its pid now belongs to another process: still an orphan."""
    proc = start_run("kill")
    proc.kill()
    proc.wait(timeout=30)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with raw_db(settings) as conn:  # as if `other` got the pid
            conn.execute("UPDATE run_leases SET owner_pid = ?", (other.pid,))
        rows = await run_records(settings)
        assert_one_interrupted_outcome(rows, other.pid)
    finally:
        other.kill()
        other.wait()


async def test_a_lease_left_by_an_earlier_process_with_this_pid_is_reaped(
    settings: Settings, start_run: Start
) -> None:
    if process_token(os.getpid()) is None:
        pytest.skip("no process start times on this platform")
    proc = start_run("kill")
    proc.kill()
    proc.wait(timeout=30)
    with raw_db(settings) as conn:  # as if it had had this pid
        conn.execute(
            "UPDATE run_leases SET owner_pid = ?, owner_started = 'another-boot:1'",
            (os.getpid(),),
        )
    assert_one_interrupted_outcome(await run_records(settings), os.getpid())
