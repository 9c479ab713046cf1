"""How every `daena` entry point reports a start-up problem: one plain line on stderr,
exit code 2, no traceback (the CLI, the console and `daena-tui` alike).

A start-up problem is anything that stops the engine from opening: a bad or non-UTF-8
`.env` or settings file, a missing, read-only or corrupt database.
"""

from __future__ import annotations

import sys

from engine.safety.display import marks_only

EXIT_STARTUP = 2


def report(message: str) -> int:
    """Write the one line (agent-free, but quoted paths may hold anything) and return 2."""
    sys.stderr.write(f"daena: {marks_only(' '.join(message.split()))}\n")
    sys.stderr.flush()
    return EXIT_STARTUP
