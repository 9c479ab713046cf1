"""The expiry warning: a pending request (or a task's deadline) entering the last
`DAENA_EXPIRY_WARNING_SECONDS` gets a highlighted time-left cell, one notification and,
where voice is on, one spoken sentence — once per entry into the window (an extension that
takes it out of the window lets it warn again when it comes back)."""

from __future__ import annotations

from collections.abc import Iterable


class ExpiryWarnings:
    """Remembers which keys were warned about while they stay in the window."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._warned: set[str] = set()

    def near(self, seconds_left: float) -> bool:
        return 0 < seconds_left <= self.seconds

    def due(self, items: Iterable[tuple[str, float]]) -> list[str]:
        """The keys that entered the window since the last call (each once)."""
        seen = dict(items)
        self._warned = {key for key in self._warned if key in seen and self.near(seen[key])}
        new = [key for key, left in seen.items() if self.near(left) and key not in self._warned]
        self._warned.update(new)
        return new
