"""A real thread racing the file tools: swaps a directory for a symlink that leads out."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INSIDE = "inside\n"
RACE_ITERATIONS = 300
RACE_BUDGET_SEC = 5.0


def race_rounds(
    iterations: int = RACE_ITERATIONS, budget: float = RACE_BUDGET_SEC
) -> Iterator[int]:
    """Bounded: at most `iterations` rounds and at most `budget` seconds."""
    deadline = time.monotonic() + budget
    for i in range(iterations):
        if time.monotonic() > deadline:
            return
        yield i


@contextmanager
def swapping(workspace: Path, outside: Path, name: str = "d") -> Iterator[threading.Event]:
    """While inside, `workspace/name` (a real directory holding `f.txt`) keeps being swapped
    for a symlink to `outside` and back. Yields the stop event; always stops on exit, with
    the real directory back in place."""
    swapped, parked = workspace / name, workspace / f"{name}.real"
    swapped.mkdir()
    (swapped / "f.txt").write_text(INSIDE)
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.rename(swapped, parked)
            os.symlink(outside, swapped)
            time.sleep(0)
            os.unlink(swapped)
            os.rename(parked, swapped)
            time.sleep(0)

    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the swapping thread did not stop"


def unchanged(outside: Path, files: dict[str, str]) -> bool:
    """`outside` holds exactly `files` with exactly that content."""
    names = sorted(os.listdir(outside))
    return names == sorted(files) and all(
        (outside / n).read_text() == text for n, text in files.items()
    )
