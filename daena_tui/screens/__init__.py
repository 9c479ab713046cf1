"""One screen per section (each a Textual mode), plus modals and the help screen."""

from __future__ import annotations

from daena_tui.screens.approvals import ApprovalsScreen
from daena_tui.screens.base import SectionScreen
from daena_tui.screens.logs import LogsScreen
from daena_tui.screens.models import ModelsScreen
from daena_tui.screens.nodes import NodesScreen
from daena_tui.screens.policy import PolicyScreen
from daena_tui.screens.run import RunScreen
from daena_tui.screens.tasks import TasksScreen
from daena_tui.screens.tools import ToolsScreen

SECTION_SCREENS: dict[str, type[SectionScreen]] = {
    "tools": ToolsScreen,
    "run": RunScreen,
    "approvals": ApprovalsScreen,
    "tasks": TasksScreen,
    "logs": LogsScreen,
    "nodes": NodesScreen,
    "models": ModelsScreen,
    "policy": PolicyScreen,
}

__all__ = ["SECTION_SCREENS", "SectionScreen"]
