"""The Daena node: a small HTTP server running safe tools in its workspace (docs/windows_node.md).

Start it with `daena-node`, `python -m node_server` or the scripts in `scripts/`. Importing
this package starts nothing; `node_server.app.create_app(settings)` builds the app.
"""

from __future__ import annotations

from engine.version import __version__

__all__ = ["__version__"]
