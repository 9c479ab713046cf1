"""What `daena` prints: exit codes, one-line errors, aligned tables, times.

Nothing here reaches the terminal raw: agent text is shown as visible marks.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from engine.safety.display import marks_only

EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


def fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"daena: {marks_only(message)}\n")  # errors quote agent input
    return code


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Plain aligned columns (readable over SSH and in logs)."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
