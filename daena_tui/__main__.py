"""`python -m daena_tui` behaves like `daena`."""

from daena_tui.cli import entry

entry()
