"""A stale exported COLUMNS/LINES must not pin the console's size (a real pty)."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
from collections.abc import Iterator

import pytest

from daena_tui.console.terminal_size import forget_stale_size


@pytest.fixture
def pty_fd() -> Iterator[int]:
    main, replica = os.openpty()
    yield replica
    os.close(main)
    os.close(replica)


def set_size(fd: int, columns: int, lines: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))


def test_stale_size_is_dropped_when_the_terminal_knows_its_own(pty_fd: int) -> None:
    set_size(pty_fd, 120, 36)
    environ = {"COLUMNS": "80", "LINES": "24", "TERM": "xterm"}
    assert forget_stale_size(pty_fd, environ) is True
    assert environ == {"TERM": "xterm"}


def test_size_is_kept_when_the_terminal_reports_none(pty_fd: int) -> None:
    set_size(pty_fd, 0, 0)  # a pane not sized yet: the variables are all there is
    environ = {"COLUMNS": "80", "LINES": "24"}
    assert forget_stale_size(pty_fd, environ) is False
    assert environ == {"COLUMNS": "80", "LINES": "24"}


def test_size_is_kept_without_a_terminal() -> None:
    with open(os.devnull, "w") as not_a_tty:
        environ = {"COLUMNS": "100"}
        assert forget_stale_size(not_a_tty.fileno(), environ) is False
        assert environ == {"COLUMNS": "100"}


def test_nothing_to_do_without_the_variables(pty_fd: int) -> None:
    set_size(pty_fd, 120, 36)
    environ = {"TERM": "xterm"}
    assert forget_stale_size(pty_fd, environ) is False
