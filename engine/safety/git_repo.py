"""The workspace's own repository through libgit2, with nothing from outside it (promises 1, 2).

libgit2 starts no programs: it has no hooks, fsmonitor, pager or external diff, ignores
textconv and diff commands, and of the filters runs only its built-in ones (`text`/`eol`/
CRLF and `ident`); a `filter=x` driver from configuration is skipped unless a Python filter
is registered with `pygit2.filter_register`, which the engine never does. What is left is
what it reads:

- configuration: the system, XDG, global and ProgramData levels (and with them the system
  and user attributes and ignore files) are switched off for the whole process when this
  module is imported, by pointing their search paths at the null device. That is acceptable
  because the engine's only libgit2 users are its git tools, which must see the workspace
  repository and nothing else. It also drops the user's `safe.directory` exceptions, so
  libgit2's owner validation (kept on) refuses a repository owned by another user.
- the repository: `open_workspace_repo` accepts only what `git_dir_of` accepts (shared with
  the git subprocess path), opens it without searching parent folders, and checks that
  libgit2 uses exactly `<workspace>/.git` with the workspace as work tree (a `core.worktree`
  pointing elsewhere is refused).
- submodules: callers pass `IGNORE_SUBMODULES` to work-tree diffs, so a `.git` file inside
  the work tree is never followed (tree and index diffs compare commit ids only).
"""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
from pygit2.enums import ConfigLevel, RepositoryOpenFlag

from engine.errors import ToolFailure
from engine.safety.git_hardening import git_dir_of

_OUTSIDE_LEVELS = (
    ConfigLevel.SYSTEM,
    ConfigLevel.XDG,
    ConfigLevel.GLOBAL,
    ConfigLevel.PROGRAMDATA,
)


def harden_libgit2() -> None:
    """Process-wide: libgit2 reads no configuration, attributes or ignore files but the
    repository's own, and validates the repository's owner. Idempotent."""
    for level in _OUTSIDE_LEVELS:
        pygit2.settings.search_path[level] = os.devnull
    pygit2.settings.owner_validation = True


def open_workspace_repo(workspace: Path) -> pygit2.Repository:
    """The repository whose root is the workspace; refuse any other with a clear message."""
    dot_git = git_dir_of(workspace)
    root = dot_git.parent
    try:
        repo = pygit2.Repository(str(root), RepositoryOpenFlag.NO_SEARCH)
    except (pygit2.GitError, KeyError) as err:
        raise ToolFailure(f"workspace: {root} is not a usable git repository: {err}") from err
    workdir = repo.workdir
    if (
        repo.is_bare
        or Path(repo.path).resolve() != dot_git
        or workdir is None
        or Path(workdir).resolve() != root
    ):
        repo.free()
        raise ToolFailure(
            f"workspace: the repository in {dot_git} has its work tree elsewhere "
            f"({workdir}); git tools work on the workspace only"
        )
    return repo


harden_libgit2()
