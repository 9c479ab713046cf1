"""One screen per section (each a Textual mode), plus modals and the help screen.

Section screens are imported the first time they are shown, so the console paints its
first frame without loading every screen (and the engine parts they use).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daena_tui.console.screens.base import SectionScreen

_HOMES: dict[str, tuple[str, str]] = {
    "tools": ("daena_tui.console.screens.tools", "ToolsScreen"),
    "run": ("daena_tui.console.screens.run", "RunScreen"),
    "approvals": ("daena_tui.console.screens.approvals", "ApprovalsScreen"),
    "tasks": ("daena_tui.console.screens.tasks", "TasksScreen"),
    "logs": ("daena_tui.console.screens.logs", "LogsScreen"),
    "nodes": ("daena_tui.console.screens.nodes", "NodesScreen"),
    "models": ("daena_tui.console.screens.models", "ModelsScreen"),
    "policy": ("daena_tui.console.screens.policy", "PolicyScreen"),
    "servers": ("daena_tui.console.screens.servers", "ServersScreen"),
}


class _Sections(Mapping[str, "type[SectionScreen]"]):
    """mode -> screen class, importing a screen's module on first access."""

    def __getitem__(self, mode: str) -> type[SectionScreen]:
        module, name = _HOMES[mode]
        screen: type[SectionScreen] = getattr(import_module(module), name)
        return screen

    def __iter__(self) -> Iterator[str]:
        return iter(_HOMES)

    def __len__(self) -> int:
        return len(_HOMES)


SECTION_SCREENS: Mapping[str, type[SectionScreen]] = _Sections()

__all__ = ["SECTION_SCREENS"]
