"""Upstream MCP servers behind the gate (docs/mcp.md, "Upstream servers").

An operator plugs another MCP server in (`daena mcp add`); its tools join the catalogue as
`SERVER.tool`, disabled until enabled, with the risk the operator sets. A call goes through
the executor like any tool (policy, approval with exact arguments, audit, timeout, cap) and
only then to the upstream. Each tool's definition is pinned when it is enabled: a changed
definition disables it before a later call reaches the upstream (docs/mcp.md "Pinning"
states exactly which call: the next one once the upstream announces the change or a new
session starts, else the first one more than 1 s after the last check).
"""
