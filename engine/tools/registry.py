"""The tool registry: built-in tools plus third-party tools from the `daena.tools` group.

A plugin entry point may name a ToolSpec, a list of them, or a callable returning either.
A plugin that fails to load is skipped and reported (doctor shows it), never fatal.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from engine.errors import ConfigError, NotFoundError
from engine.tools.builtin import builtin_tools
from engine.tools.spec import ToolSpec

ENTRY_POINT_GROUP = "daena.tools"


class ToolRegistry:
    def __init__(self, specs: Iterable[ToolSpec] = ()) -> None:
        self._tools: dict[str, ToolSpec] = {}
        self.plugin_errors: list[str] = []
        for spec in specs:
            self.register(spec)

    @classmethod
    def default(cls, *, plugins: bool = True) -> ToolRegistry:
        registry = cls(builtin_tools())
        if plugins:
            registry.load_plugins()
        return registry

    def register(self, spec: ToolSpec) -> None:
        if not isinstance(spec, ToolSpec):
            raise ConfigError(f"tool: {spec!r} is not a ToolSpec")
        if spec.name in self._tools:
            raise ConfigError(f"tool: {spec.name!r} is already registered")
        self._tools[spec.name] = spec

    def unregister(self, name: str) -> None:
        """Forget a tool that left the catalogue (an upstream MCP server's, removed)."""
        self._tools.pop(name, None)

    def load_plugins(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded: Any = ep.load()
                if callable(loaded) and not isinstance(loaded, ToolSpec):
                    loaded = loaded()
                for spec in loaded if isinstance(loaded, list | tuple) else [loaded]:
                    self.register(spec)
            except Exception as err:  # a broken plugin must not stop the engine
                self.plugin_errors.append(f"{ep.name} ({ep.value}): {err}")

    def get(self, name: str) -> ToolSpec:
        try:
            return self._tools[name]
        except KeyError:
            raise NotFoundError(f"tool: unknown tool {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def names(self) -> set[str]:
        return set(self._tools)

    def all(self) -> list[ToolSpec]:
        return list(self._tools.values())
