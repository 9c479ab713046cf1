"""`apply_patch`: apply a unified diff to the workspace's working tree with pygit2
(docs/security.md, promises 2 and 4).

No `git` subprocess: the text is normalised (LLMs often omit the `diff --git` lines and the
`new file mode` line, which libgit2 needs), parsed with `pygit2.Diff.parse_diff`, and every
touched path (old and new names, as written and as libgit2 parsed them) is confined to the
workspace, kept out of `.git` in any spelling at any depth and away from the console's own
files. Nothing may become or stay executable, change mode, or be a symlink or submodule.
Then libgit2 checks that it applies and applies it to the working tree only (the index is
left alone).

Workspaces that are not a git repository work too: libgit2 is given a temporary bare
repository whose work directory is set to the workspace, so nothing is written into the
workspace except the patched files and nothing in it (a fake `.git` layout, a config file
at its top) is taken for a repository. A workspace that is a repository root uses its own
repository, opened by `engine.safety.git_repo` (refused when it is not a plain root with its
own `.git`; no system or user configuration). In both cases libgit2 runs no program: of
the filters a `.gitattributes` can name it applies only its built-in `text`/`eol` and
`ident` conversions, and a `filter=<driver>` is ignored whatever the config says.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pygit2

from engine.errors import ConfinementError, InputError, ToolFailure
from engine.safety.git_repo import open_workspace_repo
from engine.safety.paths import is_git_name, resolve_in_workspace
from engine.safety.protected import ProtectedPaths
from engine.tools.builtin.git_catalogue import PatchArgs
from engine.tools.spec import ToolContext

_WORKDIR = pygit2.enums.ApplyLocation.WORKDIR
_STATUS = {"A": "added", "D": "deleted", "M": "modified", "R": "renamed", "C": "added"}
_FORBIDDEN_KINDS = {0o120000: "symbolic link", 0o160000: "submodule"}


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_DEV_NULL = "/dev/null"


@dataclass(frozen=True)
class FileSection:
    """One file's part of a patch: header lines (possibly none) and hunks (each a list of
    lines, the `@@` line first)."""

    header: tuple[str, ...] = ()
    old: str | None = None  # from `--- `; None for /dev/null
    new: str | None = None  # from `+++ `; None for /dev/null
    git_header: bool = False
    hunks: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    @property
    def path(self) -> str:
        return self.new or self.old or "?"

    def with_hunks(self, hunks: list[tuple[str, ...]]) -> FileSection:
        return replace(self, hunks=tuple(hunks))


def _name(line: str, prefix: str) -> str | None:
    """Path of a `--- `/`+++ ` line: tab-separated timestamps and the a/ or b/ prefix dropped."""
    raw = line[4:].rstrip("\r\n").split("\t", 1)[0].strip()
    if raw == _DEV_NULL:
        return None
    return raw[2:] if raw.startswith(prefix) else raw


def _take_hunk(lines: list[str], start: int) -> tuple[tuple[str, ...], int]:
    """The hunk starting at `start`, consumed by its line counts (so a removed line that
    reads `--- x` is not mistaken for a file header). Blank lines count as blank context:
    editors and LLMs often strip the single space."""
    match = _HUNK.match(lines[start])
    assert match is not None
    old = int(match.group(1) or 1)
    new = int(match.group(2) or 1)
    hunk = [lines[start]]
    i = start + 1
    while i < len(lines):
        line = lines[i]
        if line.startswith("\\"):
            hunk.append(line)
        elif old <= 0 and new <= 0:
            break
        elif line.startswith(" ") or line in ("\n", "\r\n"):
            hunk.append(line if line.startswith(" ") else " " + line)
            old, new = old - 1, new - 1
        elif line.startswith("-"):
            hunk.append(line)
            old -= 1
        elif line.startswith("+"):
            hunk.append(line)
            new -= 1
        else:
            break  # a short hunk: libgit2 reports the bad count
        i += 1
    return tuple(hunk), i


def parse_sections(text: str) -> list[FileSection]:
    """Split a unified diff into file sections; lines outside any (prose, `Index:`) go."""
    if "\x00" in text:
        raise InputError("patch: must not contain NUL bytes (text only)")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    sections: list[FileSection] = []
    cur: FileSection | None = None
    hunks: list[tuple[str, ...]] = []
    i = 0

    def close() -> None:
        if cur is not None:
            sections.append(cur.with_hunks(hunks))

    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            close()
            cur, hunks = FileSection(header=(line,), git_header=True), []
            i += 1
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = _name(line, "a/"), _name(lines[i + 1], "b/")
            if cur is None or hunks or not cur.git_header or cur.old or cur.new:
                close()
                cur, hunks = FileSection(), []
            cur = replace(cur, header=(*cur.header, line, lines[i + 1]), old=old, new=new)
            i += 2
        elif _HUNK.match(line):
            if cur is None:
                raise InputError(f"patch: hunk at line {i + 1} comes before any file header")
            hunk, i = _take_hunk(lines, i)
            hunks.append(hunk)
        elif cur is not None and cur.git_header and not hunks:
            cur = replace(cur, header=(*cur.header, line))  # index, mode, rename lines
            i += 1
        else:
            i += 1
    close()
    return sections


def _render_section(section: FileSection) -> list[str]:
    old, new = section.old, section.new
    out: list[str]
    if section.git_header:
        out = list(section.header)
        extended = "".join(out)
        if old is None and new is not None and "new file mode" not in extended:
            out.insert(1, "new file mode 100644\n")
        if new is None and old is not None and "deleted file mode" not in extended:
            out.insert(1, "deleted file mode 100644\n")
    else:
        a, b = old or new, new or old
        out = [f"diff --git a/{a} b/{b}\n"]
        if old is None:
            out.append("new file mode 100644\n")
        if new is None:
            out.append("deleted file mode 100644\n")
        out.append(f"--- a/{old}\n" if old is not None else f"--- {_DEV_NULL}\n")
        out.append(f"+++ b/{new}\n" if new is not None else f"+++ {_DEV_NULL}\n")
    for hunk in section.hunks:
        out.extend(hunk)
    return out


def render(sections: list[FileSection]) -> str:
    """The normalised patch text libgit2 parses."""
    return "".join(line for section in sections for line in _render_section(section))


@contextlib.contextmanager
def _repository(workspace: Path) -> Iterator[pygit2.Repository]:
    """The workspace's own repository when it is a repository root, else a temporary bare
    repository pointed at the workspace (never one found by searching parent folders:
    patch paths are relative to the workspace, not to an enclosing repository)."""
    root = workspace.resolve()
    if os.path.lexists(root / ".git"):
        repo = open_workspace_repo(root)  # refuses a .git file, link or borrowed layout
        try:
            yield repo
        finally:
            repo.free()
        return
    with tempfile.TemporaryDirectory(prefix="daena-patch-") as tmp:
        repo = pygit2.init_repository(tmp, bare=True)
        repo.workdir = str(root)
        try:
            yield repo
        finally:
            repo.free()


def _parse(text: str, what: str = "patch") -> pygit2.Diff:
    try:
        return pygit2.Diff.parse_diff(text)
    except (pygit2.GitError, ValueError) as err:
        raise InputError(f"{what}: cannot be parsed as a unified diff: {err}") from err


def _confine(workspace: Path, raw: str, protected: ProtectedPaths | None) -> Path:
    if raw.startswith(("/", "\\")):
        # libgit2 would silently drop the leading slash; an absolute path is a mistake or
        # an attack either way.
        raise ConfinementError(f"patch: absolute path {raw!r} is not allowed")
    if any(is_git_name(part) for part in raw.replace("\\", "/").split("/")):
        # Nested repositories and case/NTFS spellings (`.GIT`, `.git.`, `git~1`) count too.
        raise ConfinementError(f"patch: {raw!r} is or is inside a .git entry")
    return resolve_in_workspace(
        workspace, raw, field="patch", allow_git_dir=False, protected=protected
    )


def _check_modes(delta: pygit2.DiffDelta) -> None:
    """No symlink or submodule, no mode change, nothing left executable (promise 1: a patch
    must not hand anyone a program to run). Deleting an executable file is allowed."""
    shown = delta.new_file.path or delta.old_file.path
    old, new = delta.old_file.mode, delta.new_file.mode
    for mode in (old, new):
        kind = _FORBIDDEN_KINDS.get(mode & 0o170000)
        if kind is not None:
            raise ConfinementError(f"patch: {shown!r} is or would become a {kind}")
    if new & 0o111 or (old & 0o111 and not _is_deletion(delta)):
        raise ConfinementError(
            f"patch: {shown!r} has executable mode {(new or old):o}; patches may only touch "
            "plain, non-executable files"
        )
    if old and new and old != new:
        raise ConfinementError(f"patch: {shown!r} changes mode {old:o} -> {new:o}; not allowed")


def _is_deletion(delta: pygit2.DiffDelta) -> bool:
    return delta.status == pygit2.enums.DeltaStatus.DELETED


def _refuse_executable_target(path: Path, shown: str) -> None:
    """A patch that rewrites a file that is executable on disk would rewrite a program."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if st.st_mode & 0o111 and not os.path.isdir(path):
        raise ConfinementError(
            f"patch: {shown!r} is executable on disk; patches may not rewrite executables"
        )


def _describe(
    workspace: Path,
    sections: list[FileSection],
    diff: pygit2.Diff,
    protected: ProtectedPaths | None = None,
) -> list[dict[str, Any]]:
    """Confine every old and new path (as written and as libgit2 parsed them), check modes,
    and list the files with their change status."""
    for section in sections:
        for raw in (section.old, section.new):
            if raw is not None:
                _confine(workspace, raw, protected)
    files: list[dict[str, Any]] = []
    for patch in diff:
        if patch is None:
            continue
        delta = patch.delta
        for raw in {delta.old_file.path, delta.new_file.path}:
            target = _confine(workspace, raw, protected)
            if not _is_deletion(delta):
                _refuse_executable_target(target, raw)
        if delta.is_binary:
            raise InputError(f"patch: {delta.new_file.path!r} is a binary change; text only")
        _check_modes(delta)
        status = _STATUS.get(delta.status_char(), "modified")
        entry: dict[str, Any] = {
            "path": delta.old_file.path if status == "deleted" else delta.new_file.path,
            "status": status,
        }
        if status == "renamed":
            entry["old_path"] = delta.old_file.path
        files.append(entry)
    if not files:
        raise InputError("patch: contains no file changes")
    return files


def _applies(repo: pygit2.Repository, text: str) -> str | None:
    """None if `text` applies to the working tree, else libgit2's reason."""
    try:
        repo.applies(_parse(text), _WORKDIR, raise_error=True)
    except pygit2.GitError as err:
        return str(err)
    return None


def _explain(repo: pygit2.Repository, sections: list[FileSection], reason: str) -> str:
    """Find the first file, then the first hunk of it, that does not apply on its own."""
    for section in sections:
        why = _applies(repo, render([section]))
        if why is None:
            continue
        for number, hunk in enumerate(section.hunks, start=1):
            hunk_why = _applies(repo, render([section.with_hunks([hunk])]))
            if hunk_why is not None:
                header = hunk[0].rstrip("\r\n")
                return f"patch: {section.path}: hunk {number} ({header}) does not apply: {hunk_why}"
        return f"patch: {section.path}: hunks do not apply together: {why}"
    return f"patch: does not apply: {reason}"


def _check_patch(
    workspace: Path, text: str, *, apply: bool, protected: ProtectedPaths | None = None
) -> list[dict[str, Any]]:
    sections = parse_sections(text)
    normalised = render(sections)
    diff = _parse(normalised)
    files = _describe(workspace, sections, diff, protected)
    for entry in files:
        # libgit2's `applies` accepts creating a file that exists; its checkout then fails.
        if entry["status"] == "added" and os.path.lexists(workspace / entry["path"]):
            raise ToolFailure(f"patch: {entry['path']}: already exists, but the patch creates it")
    with _repository(workspace) as repo:
        reason = _applies(repo, normalised)
        if reason is not None:
            raise ToolFailure(_explain(repo, sections, reason))
        if apply:
            try:
                repo.apply(diff, _WORKDIR)
            except pygit2.GitError as err:
                raise ToolFailure(f"patch: applying failed: {err}") from err
    return files


def _check(ctx: ToolContext, args: PatchArgs) -> None:
    sections = parse_sections(args.patch)
    _describe(ctx.workspace, sections, _parse(render(sections)), ctx.protected)


async def _dry_run(ctx: ToolContext, args: PatchArgs) -> dict[str, Any]:
    files = await asyncio.to_thread(
        _check_patch, ctx.workspace, args.patch, apply=False, protected=ctx.protected
    )
    return {"applies": True, "files": files}


async def _run(ctx: ToolContext, args: PatchArgs) -> dict[str, Any]:
    files = await asyncio.to_thread(
        _check_patch, ctx.workspace, args.patch, apply=True, protected=ctx.protected
    )
    return {"files": files}
