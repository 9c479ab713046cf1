"""The console's terminal driver: Textual's Linux driver with an input thread that sleeps
until there is input or it is told to stop.

Textual's input thread selects on stdin with a 0.1 s timeout, only to notice its exit event
and a lone Escape's timeout: ten wakeups a second for an idle console (BENCHMARKS.md §18).
Here the thread also waits on a pipe that setting the exit event writes to, and it times
out only while the parser holds a partial escape sequence (a lone Escape is delivered after
Textual's ESCDELAY, as before). Everything else (resize, mouse, bracketed paste, focus,
suspend and resume, the terminal restored on exit) is Textual's own code.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
import time
from codecs import getincrementaldecoder
from typing import TYPE_CHECKING

from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

if TYPE_CHECKING:
    from textual.app import App

UNKNOWN_TIMEOUT_SEC = 0.1
"""How long to wait when the parser's pending timeout cannot be read: Textual's own poll."""
_UNREADABLE = object()


class WakingEvent(threading.Event):
    """An exit event whose `set` also writes to the input thread's wake-up pipe."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._wake_fd: int | None = None

    def attach(self, fd: int | None) -> None:
        """Write to `fd` on every `set` from now on (None: to nothing)."""
        with self._lock:
            self._wake_fd = fd

    def set(self) -> None:
        super().set()
        with self._lock:
            if self._wake_fd is not None:
                with contextlib.suppress(OSError):  # full (already woken) or closed
                    os.write(self._wake_fd, b"x")


def parser_timeout(parser: XTermParser) -> float | None:
    """Seconds until the parser gives up on a partial sequence (None: it holds none)."""
    deadline = getattr(parser, "_timeout_time", _UNREADABLE)  # Textual's, private
    if deadline is _UNREADABLE or not isinstance(deadline, float | int | None):
        return UNKNOWN_TIMEOUT_SEC
    if deadline is None:
        return None
    return max(0.0, float(deadline) - get_time())


class QuietLinuxDriver(LinuxDriver):
    """LinuxDriver whose input thread wakes only for input, an escape timeout or exit."""

    def __init__(
        self,
        app: App[object],
        *,
        debug: bool = False,
        mouse: bool = True,
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self.exit_event = WakingEvent()

    def run_input_thread(self) -> None:
        """Textual's loop (linux_driver.py), blocking instead of polling every 0.1 s."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        exit_event = self.exit_event
        assert isinstance(exit_event, WakingEvent)
        exit_event.attach(wake_write)
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(wake_read, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(ready: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            keys = [key for key in ready if key[0].fd == fileno]
            for last, (_key, mask) in loop_last(keys):
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(fileno, 1024 * 4), final=final and last)
                    if not data:
                        break  # stdin piped and at its end
                    for event in parser.feed(data):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not exit_event.is_set():
                process(selector.select(parser_timeout(parser)))
            selector.unregister(fileno)
            pending = parser_timeout(parser)  # a lone Escape in flight: let it time out
            if pending:
                time.sleep(pending)  # at most ESCDELAY; no sleep when nothing is pending
            process([], final=True)
        finally:
            exit_event.attach(None)
            selector.close()
            os.close(wake_read)
            os.close(wake_write)
            with contextlib.suppress(EOFError, ParseError):
                for _event in parser.feed(""):
                    pass
