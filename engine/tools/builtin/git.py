"""`git_status` and `git_diff` through pygit2: no `git` subprocess, always the workspace repo."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pygit2
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import ToolFailure
from engine.safety.paths import relative_to_workspace, resolve_in_workspace
from engine.tools.spec import NoArgs, Risk, ToolContext, ToolSpec

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


def open_repo(workspace: Path) -> pygit2.Repository:
    """The workspace's own repository (never one discovered further up)."""
    try:
        return pygit2.Repository(str(workspace))
    except (pygit2.GitError, KeyError) as err:
        raise ToolFailure(f"workspace: {workspace} is not a git repository") from err


class _RepoCache:
    """One open repository per workspace, used by one thread at a time.

    Reopening costs a full index read and a stat of every file (about half of a status on
    1,000 files); libgit2 refreshes a cached index itself when the file changes on disk.
    libgit2 objects are not safe for concurrent use, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._repos: dict[Path, pygit2.Repository] = {}

    @contextmanager
    def use(self, workspace: Path) -> Iterator[pygit2.Repository]:
        with self._lock:
            repo = self._repos.get(workspace)
            if repo is None or not (workspace / ".git").exists():
                self._repos.pop(workspace, None)
                repo = open_repo(workspace)
                if len(self._repos) >= 8:
                    self._repos.pop(next(iter(self._repos)))
                self._repos[workspace] = repo
            yield repo


_REPOS = _RepoCache()


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


def status_of(repo: pygit2.Repository) -> dict[str, Any]:
    entries = [
        entry
        for path, flags in sorted(repo.status(untracked_files="normal").items())
        for entry in status_entries(path, flags)
    ]
    entries.sort(key=lambda e: (e["status"] == "??", e["path"]))
    short = "\n".join(f"{e['status']} {e['path']}" for e in entries)
    return {"branch": branch_name(repo), "files": entries, "short": short, "clean": not entries}


class DiffArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staged: bool = Field(False, description="Diff the index against HEAD instead of the work tree")
    paths: list[str] = Field(default_factory=list, description="Limit to these paths")


def _wanted(path: str, prefixes: list[str]) -> bool:
    return not prefixes or any(
        p == "." or path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes
    )


def diff(workspace: Path, staged: bool, prefixes: list[str]) -> dict[str, Any]:
    with _REPOS.use(workspace) as repo:
        return diff_of(repo, staged, prefixes)


def diff_of(repo: pygit2.Repository, staged: bool, prefixes: list[str]) -> dict[str, Any]:
    repo.index.read(False)  # pick up changes made by others since (reads only if changed)
    if staged:
        head = None if repo.head_is_unborn else repo.head.peel(pygit2.Tree)
        tree = head if head is not None else repo[repo.TreeBuilder().write()]
        result = repo.index.diff_to_tree(tree)
    else:
        result = repo.index.diff_to_workdir()
    texts: list[str] = []
    files: list[dict[str, Any]] = []
    for patch in result:
        if patch is None:
            continue
        path = patch.delta.new_file.path or patch.delta.old_file.path
        if not _wanted(path, prefixes):
            continue
        _, added, removed = patch.line_stats
        files.append({"path": path, "added": added, "removed": removed})
        texts.append(patch.text or "")
    return {"patch": "".join(texts), "files": files, "staged": staged}


async def _status(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
    return await asyncio.to_thread(status, ctx.workspace)


def _check_diff(ctx: ToolContext, args: DiffArgs) -> None:
    for raw in args.paths:
        resolve_in_workspace(ctx.workspace, raw, field="paths")


async def _diff(ctx: ToolContext, args: DiffArgs) -> dict[str, Any]:
    prefixes = [
        relative_to_workspace(ctx.workspace, resolve_in_workspace(ctx.workspace, p, field="paths"))
        for p in args.paths
    ]
    return await asyncio.to_thread(diff, ctx.workspace, args.staged, prefixes)


GIT_STATUS = ToolSpec(
    name="git_status",
    description="Branch and changed files of the workspace repository.",
    risk=Risk.LOW,
    args_model=NoArgs,
    run=_status,
    timeout_sec=60,
)

GIT_DIFF = ToolSpec(
    name="git_diff",
    description="Unified diff of the work tree (or the index with staged) and per-file counts.",
    risk=Risk.LOW,
    args_model=DiffArgs,
    run=_diff,
    check=_check_diff,
    timeout_sec=60,
    output_cap=2_000_000,
)

TOOLS = [GIT_STATUS, GIT_DIFF]
