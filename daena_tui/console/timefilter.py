"""Parse the Logs screen's time filters: `15m`, `2h`, `7d` ago, or a local date/time."""

from __future__ import annotations

import re
from datetime import datetime

import engine
from daena_tui.console.clock import Clock

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)


def parse_when(raw: str, clock: Clock, *, field: str) -> float | None:
    """A timestamp, None for blank; `engine.InputError` naming the field otherwise."""
    text = raw.strip()
    if not text:
        return None
    match = _RELATIVE.fullmatch(text.lower())
    if match:
        return clock.now() - float(match.group(1)) * _UNITS[match.group(2)]
    for fmt in _FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=clock.tz).timestamp() if clock.tz else parsed.timestamp()
    raise engine.InputError(
        f"{field}: {text!r} is not a time (use 15m, 2h, 7d, YYYY-MM-DD or YYYY-MM-DD HH:MM)"
    )
