"""Which task ids this process is driving now, and as which owner: the runner fills it,
recovery reads it at open (a task this process drives is not a dead process's). Its own
module so recovery, which every engine open runs, does not import the runner."""

from __future__ import annotations

ACTIVE_RUNS: dict[str, str] = {}
"""Task ids being driven in this process → the owner driving them."""
