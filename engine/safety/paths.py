"""Workspace confinement (docs/security.md, promise 2: nothing outside the workspace).

A user path is resolved with symlinks followed and must lie inside the workspace root by
path components, never by string prefix: `../ws-secret` beside `ws` is outside. Backslashes
count as separators on every platform so a Windows-style escape cannot slip through a POSIX
check (the node server runs on Windows). This decides *which* file a tool may use; opening
exactly that file, even if the tree changes meanwhile, is `engine.safety.nofollow`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.errors import ConfinementError, InputError
from engine.safety.protected import ProtectedPaths

_DRIVE = re.compile(r"^[A-Za-z]:")
# Code points HFS+ ignores in names, so `.g\u200cit` is `.git` there (git refuses them too).
_IGNORABLE = dict.fromkeys(
    ord(c)
    for c in "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u206a\u206b"
    "\u206c\u206d\u206e\u206f\ufeff"
)


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


def is_git_name(name: str) -> bool:
    """True for a name some file system takes as `.git`: any case (`.GIT` on Windows and
    macOS), trailing dots or spaces and `:stream` suffixes (NTFS), the 8.3 short name
    `GIT~1`, HFS+-ignorable code points."""
    folded = name.translate(_IGNORABLE).casefold().split(":", 1)[0].rstrip(". ")
    return folded in (".git", "git~1")


@dataclass(frozen=True)
class ConfinedPath:
    """A path checked to lie inside the workspace, as components of its resolved form."""

    root: Path  # the workspace, resolved
    parts: tuple[str, ...]  # below the root; empty for the root itself
    raw: str  # what the caller asked for, for messages
    field: str

    @property
    def path(self) -> Path:
        return self.root.joinpath(*self.parts)

    @property
    def shown(self) -> str:
        return "/".join(self.parts) or "."


def confine(
    root: Path,
    raw: str,
    *,
    field: str = "path",
    allow_git_dir: bool = True,
    protected: ProtectedPaths | None = None,
) -> ConfinedPath:
    """Resolve `raw` against `root`; refuse anything that lands outside it.

    Absolute paths are accepted only when they resolve inside the workspace. With
    `allow_git_dir=False` (it marks a writer) a path with a `.git` component in any case, at
    any depth, as written or once resolved, is refused: `.git` decides what git runs (hooks,
    config), and a `.git` *file* redirects git elsewhere. `protected` files (the console's
    own settings, secrets, database; for a writer also its program) are refused by name,
    case-folded, and by identity.
    """
    text = _normalise(raw, field)
    base = root.resolve()
    absolute = PurePosixPath(text).is_absolute()
    candidate = Path(text) if absolute else base / text
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as err:  # symlink loops, permission errors
        raise ConfinementError(f"{field}: cannot resolve {raw!r}: {err}") from err
    if not resolved.is_relative_to(base):
        raise ConfinementError(f"{field}: {raw!r} resolves outside the workspace {base}")
    parts = resolved.relative_to(base).parts
    written = () if absolute else PurePosixPath(text).parts
    if not allow_git_dir and any(is_git_name(p) for p in (*written, *parts)):
        raise ConfinementError(
            f"{field}: {raw!r} is or is inside a .git entry, which tools may not change "
            "(it decides what git runs)"
        )
    if protected is not None:
        protected.check(resolved, field=field, shown=raw, writing=not allow_git_dir)
    return ConfinedPath(base, parts, raw, field)


def resolve_in_workspace(
    root: Path,
    raw: str,
    *,
    field: str = "path",
    allow_git_dir: bool = True,
    protected: ProtectedPaths | None = None,
) -> Path:
    """`confine` as a resolved `Path` (for tools that hand paths to a library)."""
    return confine(root, raw, field=field, allow_git_dir=allow_git_dir, protected=protected).path


def relative_to_workspace(root: Path, path: Path) -> str:
    """Workspace-relative POSIX form of an already-confined path."""
    rel = path.relative_to(root.resolve())
    return rel.as_posix() or "."
