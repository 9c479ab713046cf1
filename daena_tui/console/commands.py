"""Command palette entries: every section, every section action, and "run <tool>"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from daena_tui.console.screens.help import described
from daena_tui.console.sections import SECTIONS
from engine.safety.display import marks_only

if TYPE_CHECKING:
    from daena_tui.console.app import DaenaApp

Command = tuple[str, Callable[[], Awaitable[None] | None], str]


class ConsoleCommands(Provider):
    """Built from the sections' bindings, so a new key binding is a new palette entry."""

    def _commands(self) -> list[Command]:
        from daena_tui.console.screens import SECTION_SCREENS

        app = cast("DaenaApp", self.app)
        commands: list[Command] = []
        for section in SECTIONS:
            commands.append(
                (
                    f"Go to {section.title}",
                    partial(app.action_section, section.mode),
                    f"key {section.key}: {section.summary}",
                )
            )
            for binding in described(SECTION_SCREENS[section.mode].BINDINGS):
                commands.append(
                    (
                        f"{section.title}: {binding.description}",
                        partial(app.run_in_section, section.mode, binding.action),
                        f"key {binding.key_display or binding.key} in {section.title}",
                    )
                )
        commands.append(("Help: keys", app.action_help, "key ?"))
        if app.engine is not None:
            for spec in app.engine.registry.all():
                commands.append(
                    (
                        f"Run {spec.name}",
                        partial(app.open_run_form, spec.name),
                        # help is read as markup; an upstream's description is untrusted
                        escape(f"{spec.risk} risk: {marks_only(spec.description)}"),
                    )
                )
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
