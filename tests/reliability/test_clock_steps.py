"""Expiry and stepped clocks (docs/reliability.md): real processes whose wall clock libfaketime
steps (the boot clock left alone, as a real step of the wall clock leaves it: engine/clock.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import Engine, Settings
from engine.clock import current_boot_id
from tests.support.raw_db import raw_db

SCRIPT = Path(__file__).with_name("clock_script.py")
LIBFAKETIME = next(
    (
        path
        for path in (
            Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
            Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
            Path("/usr/lib/faketime/libfaketime.so.1"),
        )
        if path.exists()
    ),
    None,
)
STEPS = {"": 0.0, "-1h": -3600.0, "+31m": 31 * 60.0}

if LIBFAKETIME is None and os.environ.get("CI"):
    raise RuntimeError("libfaketime is missing: .ci/run installs the Debian package faketime")
pytestmark = [
    pytest.mark.skipif(LIBFAKETIME is None, reason="libfaketime (Debian: faketime) missing"),
    pytest.mark.skipif(current_boot_id() is None, reason="no boot clock (Linux only)"),
]


def act(settings: Settings, action: str, arg: str = "", *, step: str = "") -> str:
    """Run one action in a fresh process whose wall clock is stepped by `step`."""
    env = dict(os.environ)
    if step:
        env |= {
            "LD_PRELOAD": str(LIBFAKETIME),
            "FAKETIME": step,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # CLOCK_BOOTTIME is not stepped with the wall
        }
    argv = [sys.executable, str(SCRIPT), str(settings.daena_db_path)]
    argv += [str(settings.execution_workspace_root), action, arg]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    clock_line, answer = done.stdout.splitlines()[-2:]
    offset = float(clock_line.split()[1]) - time.time()
    assert abs(offset - STEPS[step]) < 60, f"the step did not apply: {offset:.0f} s"  # control
    return answer


def backdate_expiry(settings: Settings, table: str, row_id: str, *, boot_id: str = "") -> None:
    """Give a row a one-second lifetime (and optionally a boot it was made in), then wait
    on the boot clock until it is over."""
    with raw_db(settings) as conn:
        conn.execute(f"UPDATE {table} SET expires_at = created_at + 1 WHERE id = ?", (row_id,))
        if boot_id:
            conn.execute(f"UPDATE {table} SET boot_id = ? WHERE id = ?", (boot_id, row_id))
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        time.sleep(0.1)


def status_of(settings: Settings, request_id: str) -> str:
    async def read() -> str:
        async with Engine.open(settings) as eng:
            return (await eng.approvals.get(request_id)).status

    return asyncio.run(read())


@pytest.fixture
def settings_with_writes(settings: Settings) -> Settings:
    act(settings, "pending")  # create the database and enable filesystem_write
    return settings


def test_a_clock_set_back_an_hour_does_not_accept_an_expired_grant(
    settings_with_writes: Settings, workspace: Path
) -> None:
    settings = settings_with_writes
    grant = act(settings, "grant")  # one second to live
    backdate_expiry(settings, "grants", grant)
    answer = act(settings, "use", grant, step="-1h")
    assert answer.startswith("refused") and "has expired" in answer, answer
    assert not (workspace / "out.txt").exists()


def test_a_clock_set_back_an_hour_does_not_approve_an_expired_request(
    settings_with_writes: Settings, workspace: Path
) -> None:
    settings = settings_with_writes
    request = act(settings, "request")
    backdate_expiry(settings, "approval_requests", request)
    answer = act(settings, "approve", request, step="-1h")  # its start sweeps it first
    assert answer.startswith("error") and "expired" in answer, answer
    assert not (workspace / "out.txt").exists()
    assert status_of(settings, request) == "expired"


def test_a_process_started_31_minutes_ahead_does_not_expire_the_inbox(
    settings_with_writes: Settings, workspace: Path
) -> None:
    settings = settings_with_writes
    request = act(settings, "request")  # 30 minutes to live
    assert act(settings, "pending", step="+31m") == request  # its start swept: still pending
    assert act(settings, "pending") == request
    assert status_of(settings, request) == "pending"
    assert act(settings, "approve", request).startswith("ok")
    assert (workspace / "out.txt").read_text() == "approved text\n"


def test_a_grant_made_with_the_clock_behind_lives_its_full_time(
    settings_with_writes: Settings, workspace: Path
) -> None:
    settings = settings_with_writes
    # a grant made by a process an hour behind is not already expired in a correct one
    grant = act(settings, "grant", step="-1h")
    with raw_db(settings) as conn:  # five minutes to live
        conn.execute("UPDATE grants SET expires_at = created_at + 300 WHERE id = ?", (grant,))
    assert act(settings, "use", grant).startswith("ok")
    assert (workspace / "out.txt").exists()


def test_without_a_shared_boot_a_clock_set_back_past_creation_decides_nothing(
    settings_with_writes: Settings, workspace: Path
) -> None:
    """A request from an earlier boot (or a platform with no boot clock): the wall clock is
    all there is, and it reads before the request was made, so nothing is decided."""
    settings = settings_with_writes
    request = act(settings, "request")
    backdate_expiry(settings, "approval_requests", request, boot_id="an-earlier-boot")
    answer = act(settings, "approve", request, step="-1h")
    assert answer.startswith("error") and "set back" in answer, answer
    assert not (workspace / "out.txt").exists()
    grant = act(settings, "grant")
    backdate_expiry(settings, "grants", grant, boot_id="an-earlier-boot")
    answer = act(settings, "use", grant, step="-1h")
    assert answer.startswith("refused") and "set back" in answer, answer
    assert not (workspace / "out.txt").exists()
