"""`git_status` and `git_diff` through pygit2: no `git` subprocess, only the workspace repo.

The repository is opened by `engine.safety.git_repo` (a repository root with its own `.git`,
nothing read from outside it). Work-tree comparisons never enter submodules, and `git_diff`
leaves out the console's own files (`.env`, the settings file, the database) when they are
tracked, saying how many it left out.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import DeltaStatus, DiffOption, FileStatus

from engine.safety.git_hardening import git_dir_of
from engine.safety.git_repo import open_workspace_repo
from engine.safety.paths import relative_to_workspace, resolve_in_workspace
from engine.safety.protected import ProtectedPaths
from engine.tools.builtin.git_catalogue import DiffArgs
from engine.tools.spec import NoArgs, ToolContext

_INDEX_CODES = (
    (pygit2.GIT_STATUS_INDEX_NEW, "A"),
    (pygit2.GIT_STATUS_INDEX_MODIFIED, "M"),
    (pygit2.GIT_STATUS_INDEX_DELETED, "D"),
    (pygit2.GIT_STATUS_INDEX_RENAMED, "R"),
    (pygit2.GIT_STATUS_INDEX_TYPECHANGE, "T"),
)
_WORKTREE_CODES = (
    (pygit2.GIT_STATUS_WT_MODIFIED, "M"),
    (pygit2.GIT_STATUS_WT_DELETED, "D"),
    (pygit2.GIT_STATUS_WT_RENAMED, "R"),
    (pygit2.GIT_STATUS_WT_TYPECHANGE, "T"),
)
# What a delta of each diff means as a status flag (as libgit2's own status maps them).
_INDEX_FLAGS = {
    DeltaStatus.ADDED: FileStatus.INDEX_NEW,
    DeltaStatus.DELETED: FileStatus.INDEX_DELETED,
    DeltaStatus.MODIFIED: FileStatus.INDEX_MODIFIED,
    DeltaStatus.RENAMED: FileStatus.INDEX_RENAMED,
    DeltaStatus.TYPECHANGE: FileStatus.INDEX_TYPECHANGE,
    DeltaStatus.CONFLICTED: FileStatus.CONFLICTED,
}
_WORKTREE_FLAGS = {
    DeltaStatus.UNTRACKED: FileStatus.WT_NEW,
    DeltaStatus.DELETED: FileStatus.WT_DELETED,
    DeltaStatus.MODIFIED: FileStatus.WT_MODIFIED,
    DeltaStatus.RENAMED: FileStatus.WT_RENAMED,
    DeltaStatus.TYPECHANGE: FileStatus.WT_TYPECHANGE,
    DeltaStatus.UNREADABLE: FileStatus.WT_UNREADABLE,
    DeltaStatus.CONFLICTED: FileStatus.CONFLICTED,
}
# Work-tree diffs never open a submodule's repository (its `.git` file may point anywhere).
_WORKDIR_DIFF = DiffOption.IGNORE_SUBMODULES | DiffOption.INCLUDE_TYPECHANGE
_STATUS_WORKDIR = _WORKDIR_DIFF | DiffOption.INCLUDE_UNTRACKED


class _RepoCache:
    """One open repository per workspace, used by one thread at a time.

    Reopening costs a full index read and a stat of every file (about half of a status on
    1,000 files); libgit2 refreshes a cached index itself when the file changes on disk.
    The workspace's `.git` is checked again on every use, so a repository that stopped
    being acceptable is never used from the cache. libgit2 objects are not safe for
    concurrent use, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._repos: dict[Path, pygit2.Repository] = {}

    @contextmanager
    def use(self, workspace: Path) -> Iterator[pygit2.Repository]:
        root = workspace.resolve()
        with self._lock:
            repo = self._repos.pop(root, None)
            try:
                git_dir_of(root)
            except Exception:
                if repo is not None:
                    repo.free()
                raise
            if repo is None:
                repo = open_workspace_repo(root)
                if len(self._repos) >= 8:
                    self._repos.pop(next(iter(self._repos))).free()
            self._repos[root] = repo
            yield repo


_REPOS = _RepoCache()
_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


@asynccontextmanager
async def repo_turn(workspace: Path) -> AsyncIterator[None]:
    """Wait for the workspace's repository in the event loop, not in a thread.

    `_REPOS` lets one thread at a time use a repository; ten `git_status` runs at once
    would otherwise hold ten of the loop's default-executor threads, nine of them blocked
    on its lock, and every other `asyncio.to_thread` of the process (a dry run's own
    checks among them) would queue behind them (benchmark 5: 641 ms for a dry run)."""
    turns = _TURNS.setdefault(asyncio.get_running_loop(), {})
    lock = turns.setdefault(workspace, asyncio.Lock())  # another spelling: still safe (_REPOS)
    async with lock:
        yield


def short_code(flags: int) -> str:
    """Two-letter code as `git status --short` prints it."""
    if flags & pygit2.GIT_STATUS_CONFLICTED:
        return "UU"
    if flags & pygit2.GIT_STATUS_WT_NEW and not any(flags & f for f, _ in _INDEX_CODES):
        return "??"
    x = next((code for flag, code in _INDEX_CODES if flags & flag), " ")
    y = next((code for flag, code in _WORKTREE_CODES if flags & flag), " ")
    return x + y


def branch_name(repo: pygit2.Repository) -> str:
    if repo.head_is_detached:
        return f"(detached at {str(repo.head.target)[:7]})"
    if repo.head_is_unborn:
        target = repo.references["HEAD"].target
        return str(target).removeprefix("refs/heads/")
    return repo.head.shorthand


def status_entries(path: str, flags: int) -> list[dict[str, str]]:
    """One entry per line `git status --short` prints (a file removed from the index but
    still on disk is both `D ` and `??`)."""
    if flags in (pygit2.GIT_STATUS_CURRENT, pygit2.GIT_STATUS_IGNORED):
        return []
    code = short_code(flags)
    entries = [{"path": path, "status": code}]
    if code[0] == "D" and flags & pygit2.GIT_STATUS_WT_NEW:
        entries.append({"path": path, "status": "??"})
    return entries


def status(workspace: Path) -> dict[str, Any]:
    with _REPOS.use(workspace) as repo:
        return status_of(repo)


def head_tree(repo: pygit2.Repository) -> pygit2.Tree:
    """HEAD's tree, or the empty tree on an unborn branch."""
    unborn = repo.head_is_unborn
    tree = repo[repo.TreeBuilder().write()] if unborn else repo.head.peel(pygit2.Tree)
    assert isinstance(tree, pygit2.Tree)
    return tree


def status_flags(repo: pygit2.Repository) -> dict[str, int]:
    """Path -> status flags, as `Repository.status(untracked_files="normal")` computes them
    but with submodules left alone (pygit2's status has no option for that): HEAD against
    the index, then the index against the work tree."""
    repo.index.read(False)
    flags: dict[str, int] = {}
    diffs = (
        (
            repo.index.diff_to_tree(head_tree(repo), flags=DiffOption.IGNORE_SUBMODULES),
            _INDEX_FLAGS,
        ),
        (repo.index.diff_to_workdir(flags=_STATUS_WORKDIR), _WORKTREE_FLAGS),
    )
    for diff, meaning in diffs:
        for delta in diff.deltas:
            flag = meaning.get(delta.status)
            if flag is not None:
                path = delta.new_file.path or delta.old_file.path
                flags[path] = flags.get(path, 0) | flag
    for path in _conflicted(repo):
        flags[path] = FileStatus.CONFLICTED
    return flags


def _conflicted(repo: pygit2.Repository) -> set[str]:
    conflicts = repo.index.conflicts
    if conflicts is None:
        return set()
    return {entry.path for triple in conflicts for entry in triple if entry is not None}


def status_of(repo: pygit2.Repository) -> dict[str, Any]:
    entries = [
        entry
        for path, flags in sorted(status_flags(repo).items())
        for entry in status_entries(path, flags)
    ]
    entries.sort(key=lambda e: (e["status"] == "??", e["path"]))
    short = "\n".join(f"{e['status']} {e['path']}" for e in entries)
    return {"branch": branch_name(repo), "files": entries, "short": short, "clean": not entries}


def _wanted(path: str, prefixes: list[str]) -> bool:
    return not prefixes or any(
        p == "." or path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes
    )


def diff(
    workspace: Path, staged: bool, prefixes: list[str], protected: ProtectedPaths | None = None
) -> dict[str, Any]:
    with _REPOS.use(workspace) as repo:
        return diff_of(repo, staged, prefixes, protected)


def diff_of(
    repo: pygit2.Repository,
    staged: bool,
    prefixes: list[str],
    protected: ProtectedPaths | None = None,
) -> dict[str, Any]:
    """The patch and per-file counts; protected files are left out before any text is made
    (a staged gitlink shows as its commit ids only; the work tree never enters a submodule)."""
    repo.index.read(False)  # pick up changes made by others since (reads only if changed)
    if staged:
        result = repo.index.diff_to_tree(head_tree(repo))
    else:
        result = repo.index.diff_to_workdir(flags=_WORKDIR_DIFF)
    root = Path(repo.workdir or ".").resolve()
    texts: list[str] = []
    files: list[dict[str, Any]] = []
    left_out = 0
    for number, delta in enumerate(result.deltas):
        path = delta.new_file.path or delta.old_file.path
        if not _wanted(path, prefixes):
            continue
        names = {delta.old_file.path, delta.new_file.path} - {""}
        if protected is not None and any(protected.covers(root / name) for name in names):
            left_out += 1
            continue
        patch = result[number]
        if patch is None:
            continue
        _, added, removed = patch.line_stats
        files.append({"path": path, "added": added, "removed": removed})
        texts.append(patch.text or "")
    out: dict[str, Any] = {"patch": "".join(texts), "files": files, "staged": staged}
    if left_out:
        out["protected_left_out"] = left_out
        out["note"] = (
            f"{left_out} protected path{'s' if left_out != 1 else ''} (the console's own "
            "settings, secrets or database) left out of this diff"
        )
    return out


async def _status(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
    async with repo_turn(ctx.workspace):
        return await asyncio.to_thread(status, ctx.workspace)


def _check_diff(ctx: ToolContext, args: DiffArgs) -> None:
    for raw in args.paths:
        resolve_in_workspace(ctx.workspace, raw, field="paths", protected=ctx.protected)


async def _diff(ctx: ToolContext, args: DiffArgs) -> dict[str, Any]:
    prefixes = [
        relative_to_workspace(
            ctx.workspace,
            resolve_in_workspace(ctx.workspace, p, field="paths", protected=ctx.protected),
        )
        for p in args.paths
    ]
    async with repo_turn(ctx.workspace):
        return await asyncio.to_thread(diff, ctx.workspace, args.staged, prefixes, ctx.protected)
