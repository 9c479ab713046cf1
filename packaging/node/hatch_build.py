"""Put the repository's `node_server`, `engine` and `daena_http` into the daena-node build.

The packages live two levels up (this project is `packaging/node/` of the repository); an
sdist carries them at its own root, so a wheel built from the sdist finds them there. Only
`.py` files and `py.typed` are taken, never `__pycache__` or other files lying around: the
wheel is a function of the sources, not of the builder's disk. The version is engine's.

Why a hook and not a static `force-include` of `../../engine`: hatchling copies a
force-included directory verbatim (bytecode caches and stray files too, exempt from every
exclude rule), and a relative path above the project root does not survive an sdist.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

PACKAGES = ("node_server", "engine", "daena_http")
SHIPPED_SUFFIXES = (".py", ".typed")
VERSION = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)


def sources_root(project_root: str) -> Path:
    """Where the three packages are: beside this file (an sdist) or the repository root."""
    here = Path(project_root).resolve()
    for candidate in (here, here.parent.parent):
        if all((candidate / name / "__init__.py").is_file() for name in PACKAGES):
            return candidate
    raise RuntimeError(
        f"daena-node: {', '.join(PACKAGES)} not found beside {here} nor two levels up; "
        "build it from a checkout of the repository (pip install ./packaging/node)"
    )


def shipped_files(root: Path) -> dict[str, str]:
    """Source path -> path inside the distribution, for every file of the three packages."""
    files: dict[str, str] = {}
    for name in PACKAGES:
        for path in sorted((root / name).rglob("*")):
            relative = path.relative_to(root)
            if "__pycache__" in relative.parts or any(p.startswith(".") for p in relative.parts):
                continue
            if path.is_file() and path.name.endswith(SHIPPED_SUFFIXES):
                files[str(path)] = relative.as_posix()
    return files


class NodeSources(BuildHookInterface):  # type: ignore[type-arg]  # generic over its config
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        build_data["force_include"].update(shipped_files(sources_root(self.root)))


class NodeVersion(MetadataHookInterface):
    PLUGIN_NAME = "custom"

    def update(self, metadata: dict[str, Any]) -> None:
        text = (sources_root(self.root) / "engine" / "version.py").read_text(encoding="utf-8")
        found = VERSION.search(text)
        if found is None:
            raise RuntimeError("daena-node: no __version__ in engine/version.py")
        metadata["version"] = found.group(1)
