"""A progress bar for long commands, on a terminal only (a pipe or a file gets nothing).

The engine reports progress through a plain callback (`done, total`); this turns it into a
`rich` progress bar on standard error, so standard output stays exactly the command's
result (an export, a report).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Update = Callable[[int, int], None]


@contextmanager
def progress_bar(label: str, stream: TextIO | None = None) -> Iterator[Update | None]:
    """Yields the callback to hand to the engine, or None when `stream` (standard error by
    default) is not a terminal. The bar disappears when the block ends."""
    out = sys.stderr if stream is None else stream
    if not out.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(file=out),
        transient=True,
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total or None)

    with bar:
        yield update
