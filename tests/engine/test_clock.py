"""The injectable clock: ManualClock moves only when told, wakes its sleepers in order, and
keeps the boot clock apart from a stepped wall clock (the rule expiry relies on)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

import engine
from engine import CredentialError, Engine, Settings, clock
from engine.clock import SYSTEM, ManualClock


async def test_sleepers_wake_when_the_clock_reaches_them_in_order() -> None:
    manual = ManualClock()
    woke: list[str] = []

    async def nap(name: str, seconds: float) -> None:
        await manual.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(nap("long", 10)), asyncio.create_task(nap("short", 3))]
    async with asyncio.timeout(10):
        await manual.asleep(2)
    manual.advance(2.9)
    await asyncio.sleep(0)  # one loop turn: a woken sleeper would have run
    assert woke == [] and manual.sleepers == 2
    manual.advance(0.1)
    async with asyncio.timeout(10):
        await tasks[1]
    assert woke == ["short"] and manual.sleepers == 1
    manual.advance(100)
    async with asyncio.timeout(10):
        await tasks[0]
    assert woke == ["short", "long"] and manual.sleepers == 0


async def test_a_cancelled_sleeper_is_forgotten() -> None:
    manual = ManualClock()
    sleeper = asyncio.create_task(manual.sleep(5))
    async with asyncio.timeout(10):
        await manual.asleep()
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    assert manual.sleepers == 0
    manual.advance(10)  # nothing left to wake, nothing raised


def test_advance_moves_every_clock_and_a_step_moves_the_wall_alone() -> None:
    manual = ManualClock(wall=1000.0)
    start = manual.now()
    manual.advance(30)
    assert (manual.time(), manual.monotonic() - 30) == (1030.0, start.boot)
    manual.step_wall(-3600)
    after = manual.now()
    assert after.wall == 1030.0 - 3600 and after.boot == (start.boot or 0) + 30
    # Age within one boot is the boot clock's: the step back does not make it younger.
    assert clock.age(start.wall, start.boot_id, start.boot, after) == 30
    with pytest.raises(ValueError, match="only advances"):
        manual.advance(-1)


def test_without_a_boot_clock_the_wall_clock_decides() -> None:
    manual = ManualClock(wall=1000.0, boot_id=None)
    start = manual.now()
    manual.advance(30)
    manual.step_wall(-3600)
    assert start.boot is None
    assert clock.age(start.wall, start.boot_id, start.boot, manual.now()) == 30 - 3600


def test_the_system_clock_is_the_machines() -> None:
    reading = SYSTEM.now()
    assert abs(reading.wall - SYSTEM.time()) < 60
    assert reading.boot_id == clock.current_boot_id()


async def test_an_agent_token_expires_on_the_engines_clock(settings: Settings) -> None:
    manual = ManualClock(wall=time.time())
    async with Engine.open(settings, clock=manual) as eng:
        _, token = await eng.credentials.mint("bot", operator="op", expires_at=manual.time() + 3600)
        assert (await eng.credentials.verify(token)).name == "bot"
        manual.advance(3601)
        with pytest.raises(CredentialError, match="agent:bot is expired"):
            await eng.credentials.verify(token)


READS_THE_ENGINE_CLOCK = (
    "approvals.py",
    "recovery.py",
    "tasks/runner.py",
    "tasks/service.py",
    "tasks/store.py",
    "tasks/budget.py",
)


@pytest.mark.parametrize("module", READS_THE_ENGINE_CLOCK)
def test_expiry_budget_and_wait_code_reads_only_the_engines_clock(module: str) -> None:
    """Where expiry, budgets, heartbeats and waits are decided, time comes from the injected
    clock: a direct read of the system clock would make a ManualClock test lie."""
    source = (Path(engine.__file__).parent / module).read_text("utf-8")
    direct = re.findall(r"\btime\.(?:time|monotonic)\(\)|\basyncio\.sleep\(", source)
    assert direct == []
    # ApprovalRequest's own defaults (front ends' displays) are the one system reading.
    assert source.count("clock.now()") - source.count("self.clock.now()") == (
        2 if module == "approvals.py" else 0
    )
