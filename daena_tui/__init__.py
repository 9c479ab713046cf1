"""Daena operator console (Textual) and the `daena` command line."""

__version__ = "0.1.0"
