"""The console's input thread (console/driver.py) on a real pty: it sleeps with no timeout
while idle, reads keys, delivers a lone Escape after its delay, and stops on exit with no
input to wake it. Textual's own thread polled every 0.1 s (BENCHMARKS.md §18)."""

from __future__ import annotations

import os
import selectors
import signal
import threading
import tty
from collections.abc import Iterator
from typing import Any

import pytest
from textual import events
from textual.app import App
from textual.message import Message

from daena_tui.console.app import DaenaApp
from daena_tui.console.driver import QuietLinuxDriver

HANG_GUARD_SEC = 30.0
"""Bounds a failing wait only (a hung thread); never how long a passing one takes."""


class Recorder(QuietLinuxDriver):
    """The driver, keeping what its input thread parsed instead of posting it to an app."""

    def __init__(self, app: App[Any]) -> None:
        super().__init__(app)
        self.seen: list[Message] = []
        self.arrived = threading.Condition()

    def process_message(self, message: Message) -> None:
        with self.arrived:
            self.seen.append(message)
            self.arrived.notify_all()

    def keys(self) -> list[str]:
        return [m.key for m in self.seen if isinstance(m, events.Key)]

    def wait_for_keys(self, count: int) -> list[str]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.keys()) >= count, HANG_GUARD_SEC)
            return self.keys()


class Timeouts(list[float | None]):
    """Every timeout the input thread's select is called with; `entered` once it is."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()


@pytest.fixture
def timeouts(monkeypatch: pytest.MonkeyPatch) -> Timeouts:
    seen = Timeouts()
    real = selectors.SelectSelector.select

    def select(self: selectors.SelectSelector, timeout: float | None = None) -> Any:
        seen.append(timeout)
        seen.entered.set()
        return real(self, timeout)

    monkeypatch.setattr(selectors.SelectSelector, "select", select)
    return seen


@pytest.fixture
def signals() -> Iterator[None]:
    """The driver installs SIGTSTP/SIGCONT handlers: put the test process's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTSTP, signal.SIGCONT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    """(the terminal's side to write keys to, the console's side it reads)."""
    main, replica = os.openpty()
    tty.setraw(replica)  # as the driver's start_application_mode sets it: no line buffering
    yield main, replica
    os.close(main)
    os.close(replica)


def started(pty: tuple[int, int]) -> tuple[Recorder, threading.Thread]:
    driver = Recorder(App())
    driver.fileno = pty[1]
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    thread.start()
    return driver, thread


def stop(driver: Recorder, thread: threading.Thread) -> None:
    driver.exit_event.set()
    thread.join(HANG_GUARD_SEC)
    assert not thread.is_alive(), "the input thread did not stop on exit"


async def test_idle_thread_waits_without_a_timeout_and_reads_keys(
    pty: tuple[int, int], timeouts: Timeouts, signals: None
) -> None:
    driver, thread = started(pty)
    os.write(pty[0], b"a")
    assert driver.wait_for_keys(1) == ["a"]
    os.write(pty[0], "é\x1b[A".encode())  # UTF-8 and an arrow key's sequence
    assert driver.wait_for_keys(3) == ["a", "é", "up"]
    stop(driver, thread)
    assert timeouts, "the thread never selected"
    assert set(timeouts) == {None}, f"the idle thread polled: {timeouts}"


async def test_a_lone_escape_is_delivered_after_its_delay(
    pty: tuple[int, int], timeouts: Timeouts, signals: None
) -> None:
    driver, thread = started(pty)
    os.write(pty[0], b"\x1b")  # could start a sequence: only a timeout says it is Escape
    assert driver.wait_for_keys(1) == ["escape"]
    stop(driver, thread)
    waits = [t for t in timeouts if t is not None]
    assert waits, "the pending Escape was waited for with no timeout"
    assert timeouts[-1] is None, "the thread kept a timeout once the Escape was delivered"


async def test_exit_wakes_the_thread_with_no_input(
    pty: tuple[int, int], timeouts: Timeouts, signals: None
) -> None:
    driver, thread = started(pty)
    assert timeouts.entered.wait(HANG_GUARD_SEC)  # in its first select, with no timeout
    stop(driver, thread)
    assert set(timeouts) == {None}
    # Textual restarts the thread after a suspend: the event is cleared and works again.
    driver.exit_event.clear()
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    thread.start()
    os.write(pty[0], b"z")
    assert driver.wait_for_keys(1) == ["z"]
    stop(driver, thread)


def test_the_console_uses_it_only_where_textual_chose_its_linux_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = DaenaApp(lambda: pytest.fail("settings are not loaded by building the app"))
    assert app.driver_class is QuietLinuxDriver
    monkeypatch.setattr("textual.constants.DRIVER", "textual.drivers.web_driver:WebDriver")
    chosen = app.get_driver_class()
    assert chosen.__name__ == "WebDriver"  # `daena web` (textual-serve) keeps its driver
