"""The one version of the console, the CLI, the API and the node (pyproject reads it)."""

__version__ = "0.1.0"
