"""Walk a confined directory of the workspace without following links (promises 2 and 3).

Shared by `filesystem_list`, `workspace_search` and the node server's listing and search:
one walker, so the rules cannot drift. It starts from a path `confine` accepted and opens
every directory one component at a time from the workspace root with no-follow opens
(`engine.safety.nofollow`), so a directory swapped for a link mid-walk fails its open
instead of leading outside. It never enters a link (to a directory or a file, inside or
outside), never enters or shows a `.git` entry in any spelling, and hides the console's own
files (`.env`, settings, database and companions, audit key) by name and, for a file with
more than one name, by identity. `.gitignore` files are honoured as git reads them (deeper
files override, an ignored directory is not entered); they are read with the same no-follow
opens and a size cap.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from engine.errors import ConfinementError
from engine.safety.nofollow import CheckedDirectory, Directory, FdDirectory, open_directory
from engine.safety.paths import confine, is_git_name
from engine.safety.protected import ProtectedPaths

if TYPE_CHECKING:
    import pathspec  # imported where used: a catalogue build does not need it

READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not hang a read
GITIGNORE_CAP = 256_000
_NOTHING = ProtectedPaths()


class Entry(NamedTuple):
    """One name met by the walk (a tuple: cheap to make for 10,000s of names). `kind` is
    file, dir, link or other (links are shown, never followed); `size` is the file's size
    (0 for the others)."""

    path: str  # workspace-relative, POSIX
    name: str
    kind: str
    size: int
    depth: int  # 1 for the start directory's own entries
    nlink: int = 1


def _name_key(name: str) -> str:
    """A name as a case-insensitive or NTFS file system compares it (`.ENV`, `.env.`)."""
    return name.split(":", 1)[0].rstrip(". ").casefold()


class _Guard:
    """Decides quickly which names are the console's own files: a name that cannot be one
    (no protected name is a prefix of it) is never stat-ed again; the rest go through
    `ProtectedPaths.covers`."""

    def __init__(self, protected: ProtectedPaths) -> None:
        self.protected = protected
        every = protected.files | protected.directories | protected.families
        self._prefixes = tuple({_name_key(p.name) for p in every if p.name})

    def may_hide(self, name: str) -> bool:
        """False when no protected name is a prefix of `name` (the common, cheap answer)."""
        return bool(self._prefixes) and _name_key(name).startswith(self._prefixes)

    def hides(self, path: Path, name: str) -> bool:
        return self.may_hide(name) and self.protected.covers(path)

    def hides_stat(self, st: os.stat_result) -> bool:
        """A file with another name elsewhere may be a hard link to a protected file."""
        return st.st_nlink > 1 and self.protected.covers_stat(st)


class _Ignores:
    """The `.gitignore` rules in force in one directory: each level's spec, root first."""

    def __init__(self, levels: tuple[tuple[str, pathspec.GitIgnoreSpec], ...] = ()) -> None:
        self.levels = levels

    def ignored(self, rel: str, is_dir: bool) -> bool:
        verdict: bool | None = None
        for base, spec in self.levels:
            sub = rel[len(base) + 1 :] if base else rel
            result = spec.check_file(sub + "/" if is_dir else sub)
            if result.include is not None:
                verdict = result.include
        return bool(verdict)

    def below(self, base: str, directory: Directory, guard: _Guard) -> _Ignores:
        text = read_small(directory, ".gitignore", GITIGNORE_CAP, guard)
        if not text:
            return self
        import pathspec

        spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
        return _Ignores((*self.levels, (base, spec)))


def read_small(directory: Directory, name: str, cap: int, guard: _Guard) -> str | None:
    """A regular file's text (never through a link), or None when absent, odd, too big or
    one of the console's own files under this name (a hard link: its lines as patterns
    would make the listing an oracle for the secret)."""
    try:
        fd = directory.open(name, READ_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > cap or guard.hides_stat(st):
            return None
        return os.read(fd, cap + 1)[:cap].decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def _scan(directory: Directory) -> list[os.DirEntry[str]]:
    """The directory's entries, sorted by name. POSIX lists the opened fd itself."""
    target: int | str
    if isinstance(directory, FdDirectory):
        target = directory.fd
    elif isinstance(directory, CheckedDirectory):
        target = str(directory.path)
    else:
        return []
    try:
        with os.scandir(target) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:
        return []


def _kind(st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "other"


@dataclass(frozen=True)
class WalkOptions:
    max_depth: int = 1
    gitignore: bool = True


class Walk:
    """A walk of `start` (confined) inside `root`. Iterate `entries()` for (entry, the open
    directory holding it); the directory stays open until the next entry is asked for."""

    def __init__(
        self,
        root: Path,
        start: str,
        options: WalkOptions,
        *,
        protected: ProtectedPaths = _NOTHING,
        field: str = "path",
    ) -> None:
        self.target = confine(root, start, field=field, protected=protected)
        if any(is_git_name(p) for p in self.target.parts):
            raise ConfinementError(f"{field}: {start!r} is inside .git, which tools do not list")
        self.options = options
        self.guard = _Guard(protected)
        self.field = field
        self.raw = start
        self.hidden = 0  # protected entries left out (said in results, never named)

    def entries(self) -> Iterator[tuple[Entry, Directory]]:
        """Every entry below the start; a start that is a regular file is its only entry
        (named explicitly, so `.gitignore` does not apply to it)."""
        parts = self.target.parts
        if parts:
            with open_directory(
                self.target.root, parts[:-1], field=self.field, raw=self.raw, missing=""
            ) as parent:
                try:
                    st = parent.lstat(parts[-1])
                except OSError:
                    st = None
                if st is not None and stat.S_ISREG(st.st_mode):
                    if self.guard.hides_stat(st):
                        self.hidden += 1
                        return
                    path = "/".join(parts)
                    yield Entry(path, parts[-1], "file", st.st_size, 1, st.st_nlink), parent
                    return
        ignores = _Ignores()
        with open_directory(
            self.target.root, parts, field=self.field, raw=self.raw, missing=""
        ) as start:
            if self.options.gitignore:
                ignores = self._ancestor_ignores(parts)
                ignores = ignores.below("/".join(parts), start, self.guard)
            yield from self._walk(start, parts, 1, ignores)

    def _ancestor_ignores(self, parts: tuple[str, ...]) -> _Ignores:
        """The `.gitignore` files of the directories above the start (git reads them too)."""
        ignores = _Ignores()
        for depth in range(len(parts)):
            above = parts[:depth]
            with (
                contextlib.suppress(Exception),
                open_directory(
                    self.target.root, above, field=self.field, raw=self.raw
                ) as directory,
            ):
                ignores = ignores.below("/".join(above), directory, self.guard)
        return ignores

    def _walk(
        self, directory: Directory, parts: tuple[str, ...], depth: int, ignores: _Ignores
    ) -> Iterator[tuple[Entry, Directory]]:
        root = self.target.root
        for item in _scan(directory):
            name = item.name
            if ("g" in name or "G" in name) and is_git_name(name):  # every .git spelling has one
                continue
            rel_parts = (*parts, name)
            rel = "/".join(rel_parts)
            if self.guard.may_hide(name) and self.guard.hides(root.joinpath(*rel_parts), name):
                self.hidden += 1
                continue
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue
            kind = _kind(st)
            if kind == "file" and self.guard.hides_stat(st):
                self.hidden += 1
                continue
            if self.options.gitignore and ignores.ignored(rel, kind == "dir"):
                continue
            size = st.st_size if kind == "file" else 0
            yield Entry(rel, name, kind, size, depth, st.st_nlink), directory
            if kind == "dir" and depth < self.options.max_depth:
                yield from self._descend(directory, name, rel_parts, depth, ignores)

    def _descend(
        self,
        directory: Directory,
        name: str,
        rel_parts: tuple[str, ...],
        depth: int,
        ignores: _Ignores,
    ) -> Iterator[tuple[Entry, Directory]]:
        try:
            child = directory.child(name)  # no-follow: a directory that became a link fails
        except OSError:
            return
        try:
            inner = (
                ignores.below("/".join(rel_parts), child, self.guard)
                if self.options.gitignore
                else ignores
            )
            yield from self._walk(child, rel_parts, depth + 1, inner)
        finally:
            child.close()
