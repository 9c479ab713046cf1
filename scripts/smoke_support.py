"""What both smoke scripts share: run named checks, print PASS/FAIL, count failures.

A check is a function that asserts; it may return a short note. Anything it raises is a
failure of that check (never a crash of the script), so the exit code tells the truth.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

import httpx


class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, name: str, fn: Callable[[], str | None]) -> None:
        try:
            note = fn()
        except AssertionError as err:
            self.fail(name, str(err))
        except httpx.HTTPError as err:
            self.fail(name, f"HTTP error: {err}")
        except Exception as err:
            self.fail(name, f"unexpected {type(err).__name__}: {err}")
            traceback.print_exc()
        else:
            print(f"PASS  {name}" + (f" ({note})" if note else ""))

    def fail(self, name: str, why: str) -> None:
        self.failed += 1
        print(f"FAIL  {name}: {why}")
