"""The Textual console: the app, its sections (screens), widgets and the engine bridge.

Only this sub-package imports Textual; the CLI, the HTTP API and the MCP gateway never do.
"""
