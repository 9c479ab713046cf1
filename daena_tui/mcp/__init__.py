"""`daena mcp serve`: Daena as an MCP server, every call through the engine's policy."""
