"""The built-in tools, in catalogue order. Each module declares its ToolSpecs."""

from __future__ import annotations

from engine.tools.builtin import (
    edit,
    filesystem,
    git_catalogue,
    listing,
    sandbox,
    search,
    shell,
    system,
    tests_runner,
    web,
    windows_node,
)
from engine.tools.spec import ToolSpec


def builtin_tools() -> list[ToolSpec]:
    return [
        *git_catalogue.GIT_TOOLS,
        *filesystem.TOOLS,
        *git_catalogue.PATCH_TOOLS,
        *shell.TOOLS,
        *web.TOOLS,
        *sandbox.TOOLS,
        *windows_node.TOOLS,
        # issue 18: the tools for real work in a repository
        *listing.TOOLS,
        *search.TOOLS,
        *edit.TOOLS,
        *git_catalogue.HISTORY_TOOLS,
        *tests_runner.TOOLS,
        *system.TOOLS,
    ]
