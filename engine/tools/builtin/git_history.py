"""`git_log` and `git_show`: the workspace repository's history through pygit2.

The repository is opened by `engine.safety.git_repo.open_workspace_repo` (the workspace's own
`.git`, never a parent repository, no outside configuration; libgit2 starts no program).
Revisions are resolved by libgit2 (no option parsing exists to abuse), paths are confined,
and the console's own files (`.env`, settings, database), if they were ever committed, are
left out of every patch and count, as `git_diff` does, saying how many were left out.
Commit trees are compared as trees, so a submodule is a commit id, never entered.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pygit2

from engine.errors import InputError
from engine.safety.git_repo import open_workspace_repo
from engine.safety.paths import relative_to_workspace, resolve_in_workspace
from engine.safety.protected import ProtectedPaths
from engine.tools.builtin.git_catalogue import LogArgs, ShowArgs
from engine.tools.spec import ToolContext

SCAN_LIMIT = 20_000  # commits looked at to find max_count that touch `paths`
MESSAGE_CHARS = 4000


def _wanted(path: str, prefixes: list[str]) -> bool:
    return not prefixes or any(
        p == "." or path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes
    )


def _prefixes(ctx: ToolContext, paths: list[str]) -> list[str]:
    return [
        relative_to_workspace(
            ctx.workspace,
            resolve_in_workspace(ctx.workspace, p, field="paths", protected=ctx.protected),
        )
        for p in paths
    ]


def _commit(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    if rev.startswith("-"):
        raise InputError(f"rev: {rev!r} must not start with '-'")
    try:
        obj = repo.revparse_single(rev)
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as err:
        raise InputError(f"rev: {rev!r} names no commit in the workspace repository") from err
    assert isinstance(commit, pygit2.Commit)
    return commit


def _diff(repo: pygit2.Repository, commit: pygit2.Commit) -> pygit2.Diff:
    """The commit against its first parent (the empty tree for a root commit)."""
    if commit.parents:
        return commit.parents[0].tree.diff_to_tree(commit.tree)
    return commit.tree.diff_to_tree(swap=True)


def _meta(commit: pygit2.Commit) -> dict[str, Any]:
    message = commit.message or ""
    when = datetime.fromtimestamp(commit.author.time, UTC).isoformat()
    return {
        "id": str(commit.id),
        "short_id": str(commit.id)[:10],
        "author": commit.author.name,
        "email": commit.author.email,
        "date": when,
        "summary": message.split("\n", 1)[0][:300],
        "message": message[:MESSAGE_CHARS],
        "parents": [str(p) for p in commit.parent_ids],
    }


class _Patches:
    """A commit's patches, filtered by paths, with protected files left out."""

    def __init__(
        self, root: Path, diff: pygit2.Diff, prefixes: list[str], protected: ProtectedPaths
    ) -> None:
        self.files: list[dict[str, Any]] = []
        self.texts: list[str] = []
        self.left_out = 0
        self.touched = False
        for number, delta in enumerate(diff.deltas):
            names = {delta.old_file.path, delta.new_file.path} - {""}
            if not any(_wanted(n, prefixes) for n in names):
                continue
            self.touched = True
            if any(protected.covers(root / n) for n in names):
                self.left_out += 1
                continue
            patch = diff[number]
            if patch is None:
                continue
            _, added, removed = patch.line_stats
            path = delta.new_file.path or delta.old_file.path
            self.files.append({"path": path, "added": added, "removed": removed})
            self.texts.append(patch.text or "")

    def note(self, out: dict[str, Any]) -> None:
        if self.left_out:
            out["protected_left_out"] = self.left_out


def log(
    workspace: Path, args: LogArgs, prefixes: list[str], protected: ProtectedPaths
) -> dict[str, Any]:
    repo = open_workspace_repo(workspace)
    try:
        root = Path(repo.workdir or workspace).resolve()
        start = _commit(repo, args.rev)
        commits: list[dict[str, Any]] = []
        scanned = 0
        for commit in repo.walk(start.id, pygit2.enums.SortMode.TOPOLOGICAL):
            scanned += 1
            if len(commits) >= args.max_count or scanned > SCAN_LIMIT:
                break
            patches = (
                _Patches(root, _diff(repo, commit), prefixes, protected)
                if args.stats or prefixes
                else None
            )
            if prefixes and patches is not None and not patches.touched:
                continue
            entry = _meta(commit)
            if args.stats and patches is not None:
                entry["files_changed"] = len(patches.files)
                entry["added"] = sum(f["added"] for f in patches.files)
                entry["removed"] = sum(f["removed"] for f in patches.files)
                patches.note(entry)
            commits.append(entry)
        return {"commits": commits, "count": len(commits), "rev": args.rev}
    finally:
        repo.free()


def show(
    workspace: Path, args: ShowArgs, prefixes: list[str], protected: ProtectedPaths
) -> dict[str, Any]:
    repo = open_workspace_repo(workspace)
    try:
        root = Path(repo.workdir or workspace).resolve()
        commit = _commit(repo, args.rev)
        patches = _Patches(root, _diff(repo, commit), prefixes, protected)
        text = "".join(patches.texts)
        out = _meta(commit)
        out["files"] = patches.files
        out["patch"] = text[: args.max_chars]
        out["truncated"] = len(text) > args.max_chars
        if out["truncated"]:
            out["note"] = f"patch cut at max_chars={args.max_chars} of {len(text)}"
        patches.note(out)
        return out
    finally:
        repo.free()


def _check_log(ctx: ToolContext, args: LogArgs) -> None:
    _prefixes(ctx, args.paths)


def _check_show(ctx: ToolContext, args: ShowArgs) -> None:
    _prefixes(ctx, args.paths)


async def _log(ctx: ToolContext, args: LogArgs) -> dict[str, Any]:
    prefixes = _prefixes(ctx, args.paths)
    return await asyncio.to_thread(log, ctx.workspace, args, prefixes, ctx.protected)


async def _show(ctx: ToolContext, args: ShowArgs) -> dict[str, Any]:
    prefixes = _prefixes(ctx, args.paths)
    return await asyncio.to_thread(show, ctx.workspace, args, prefixes, ctx.protected)
