"""Workspace confinement (SPEC §4.1).

A user path is resolved with symlinks followed and must lie inside the workspace root by
path components, never by string prefix: `../ws-secret` beside `ws` is outside. Backslashes
count as separators on every platform so a Windows-style escape cannot slip through a POSIX
check (the node server runs on Windows).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from engine.errors import ConfinementError, InputError

_DRIVE = re.compile(r"^[A-Za-z]:")


def _normalise(raw: str, field: str) -> str:
    if not isinstance(raw, str):
        raise InputError(f"{field}: must be a string")
    if "\x00" in raw:
        raise ConfinementError(f"{field}: must not contain NUL bytes")
    if not raw.strip():
        raise InputError(f"{field}: must not be empty")
    text = raw.replace("\\", "/")
    if text.startswith("//"):
        raise ConfinementError(f"{field}: UNC paths ({raw!r}) are not allowed")
    if _DRIVE.match(text):
        raise ConfinementError(f"{field}: drive paths ({raw!r}) are not allowed")
    return text


def resolve_in_workspace(
    root: Path, raw: str, *, field: str = "path", allow_git_dir: bool = True
) -> Path:
    """Resolve `raw` against `root`; refuse anything that lands outside it.

    Absolute paths are accepted only when they resolve inside the workspace. With
    `allow_git_dir=False` paths inside the repository's `.git` are refused too.
    """
    text = _normalise(raw, field)
    base = root.resolve()
    candidate = Path(text) if PurePosixPath(text).is_absolute() else base / text
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as err:  # symlink loops, permission errors
        raise ConfinementError(f"{field}: cannot resolve {raw!r}: {err}") from err
    if not resolved.is_relative_to(base):
        raise ConfinementError(f"{field}: {raw!r} resolves outside the workspace {base}")
    if not allow_git_dir:
        parts = resolved.relative_to(base).parts
        if parts and parts[0] == ".git":
            raise ConfinementError(f"{field}: {raw!r} is inside .git, which tools may not change")
    return resolved


def relative_to_workspace(root: Path, path: Path) -> str:
    """Workspace-relative POSIX form of an already-confined path."""
    rel = path.relative_to(root.resolve())
    return rel.as_posix() or "."
