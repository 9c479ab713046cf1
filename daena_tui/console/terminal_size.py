"""Lay the console out at the terminal's real size, not at a stale `COLUMNS`/`LINES`.

Textual reads its size with `shutil.get_terminal_size`, which prefers those two variables
over the terminal itself. Exported by a parent shell, a test runner or a script, they pin
the console at that size and every resize is ignored, so they are dropped whenever the
terminal can report its own size."""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

SIZE_VARIABLES = ("COLUMNS", "LINES")


def forget_stale_size(
    fd: int | None = None, environ: MutableMapping[str, str] = os.environ
) -> bool:
    """Drop `COLUMNS`/`LINES` from `environ` when terminal `fd` (stdout by default) knows
    its own size; returns whether it did. Without a terminal the variables are kept: they
    are then the only size there is."""
    if not any(name in environ for name in SIZE_VARIABLES):
        return False
    try:
        if fd is None:
            fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else -1
        size = os.get_terminal_size(fd)
    except (ValueError, OSError):
        return False
    if size.columns <= 0 or size.lines <= 0:
        return False
    for name in SIZE_VARIABLES:
        environ.pop(name, None)
    return True
