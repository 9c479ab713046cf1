"""An upstream MCP tool's pinning state, as the Tools and Servers sections show it: the
state in a word, and the pinned and changed definitions side by side (docs/mcp.md,
"Pinning"). Every definition is an untrusted server's text: shown inert, never markup."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from daena_tui.console.render import agent_text
from daena_tui.console.styles import status_text

if TYPE_CHECKING:  # the Tools list draws before the engine (and pydantic) loads
    from engine.upstream.pinning import Definition
    from engine.upstream.store import UpstreamTool

PIN_WORDS = {"pinned": "pinned", "changed": "changed", "unpinned": "not pinned"}


def pin_text(app: Any, state: str) -> Text:
    """`pinned`, `changed` (disabled until re-enabled) or `not pinned` (never enabled)."""
    return status_text(app, state, PIN_WORDS.get(state, state))  # its tone: engine/statuses.py


def pin_summary(tool: UpstreamTool) -> str:
    """One line saying what the state means for a call."""
    if tool.pin_state == "changed":
        return "disabled until re-enabled (enabling pins the new definition)"
    if tool.pin_state == "pinned":
        return f"pinned sha256 {(tool.pinned_hash or '')[:12]}…"
    return "not pinned — enabling pins its current definition"


def _definition_text(definition: Definition) -> Text:
    """A definition as the upstream wrote it (untrusted): description, then its schema."""
    schema = json.dumps(definition.input_schema, indent=1, sort_keys=True, ensure_ascii=False)
    text = agent_text(definition.description, max_lines=6, max_chars=600)
    return text.append("\n").append(agent_text(schema, max_lines=12, max_chars=1200))


def definitions(tool: UpstreamTool) -> RenderableType:
    """Pinned and changed definitions side by side: what the operator enabled, and what the
    upstream now says (until the operator re-enables the tool, which pins the new one)."""
    grid = Table.grid(padding=(0, 2), expand=True)
    grid.add_column(ratio=1)
    pinned = tool.pinned or tool.definition
    if tool.changed is None:
        grid.add_row(Text(f"{tool.name} — pinned definition (upstream text)", style="bold"))
        grid.add_row(_definition_text(pinned))
        return grid
    grid.add_column(ratio=1)
    grid.add_row(
        Text("pinned when enabled (upstream text)", style="bold"),
        Text("changed to (upstream text)", style="bold"),
    )
    grid.add_row(_definition_text(pinned), _definition_text(tool.changed))
    return grid
