"""The `daena` command line: one module per command group, dispatched by `dispatch.py`.

`session.py` opens the engine for a command and emits its result; `output.py` and `args.py`
are how commands print and how they read a tool's arguments. `main` and `entry` are
re-exported so `daena_tui.cli:entry` (the console script) and `daena_tui.cli.main(argv)` keep
working.
"""

from daena_tui.cli.dispatch import entry, main, parse

__all__ = ["entry", "main", "parse"]
