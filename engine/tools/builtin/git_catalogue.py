"""The git tools as the catalogue lists them: `git_status`, `git_diff`, `apply_patch`,
`git_log` and `git_show`, their arguments and their specs.

Their implementations (`git.py`, `patch.py`, `git_history.py`) need pygit2 and load on a
tool's first run or check (engine/tools/deferred.py), with libgit2 hardened by
`engine.safety.git_repo` as they import it. Listing the catalogue, which every engine open
does, needs only this module.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.tools.deferred import deferred_check, deferred_run
from engine.tools.spec import NoArgs, PathItem, Risk, ToolSpec

GIT = "engine.tools.builtin.git"
PATCH = "engine.tools.builtin.patch"
HISTORY = "engine.tools.builtin.git_history"

APPLY_PATCH_MAX_CHARS = 5_000_000
MAX_COMMITS = 200
SHOW_MAX_CHARS = 2_000_000
_REV = r"^[A-Za-z0-9_./~^@{}:+-]{1,200}$"


class DiffArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staged: bool = Field(False, description="Diff the index against HEAD instead of the work tree")
    paths: list[PathItem] = Field(default_factory=list, description="Limit to these paths")


class PatchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patch: str = Field(
        min_length=1,
        max_length=APPLY_PATCH_MAX_CHARS,
        description="Unified diff; the 'diff --git' header lines may be omitted",
    )


def _rev_field() -> Any:
    return Field(
        "HEAD",
        pattern=_REV,
        description="Revision: a commit id, branch, tag or expression like HEAD~3",
    )


def _paths_field() -> Any:
    return Field(default_factory=list, max_length=50, description="Only these paths")


class LogArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rev: str = _rev_field()
    max_count: int = Field(20, ge=1, le=MAX_COMMITS, description="Commits to show at most")
    paths: list[PathItem] = _paths_field()
    stats: bool = Field(True, description="Files changed, lines added and removed per commit")


class ShowArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rev: str = _rev_field()
    paths: list[PathItem] = _paths_field()
    max_chars: int = Field(
        200_000, ge=1000, le=SHOW_MAX_CHARS, description="Cut the patch text after this"
    )


GIT_STATUS = ToolSpec(
    name="git_status",
    description="Branch and changed files of the workspace repository.",
    risk=Risk.LOW,
    args_model=NoArgs,
    run=deferred_run(GIT, "_status"),
    timeout_sec=60,
)

GIT_DIFF = ToolSpec(
    name="git_diff",
    description="Unified diff of the work tree (or the index with staged) and per-file counts.",
    risk=Risk.LOW,
    args_model=DiffArgs,
    run=deferred_run(GIT, "_diff"),
    check=deferred_check(GIT, "_check_diff"),
    timeout_sec=60,
    output_cap=2_000_000,
)

APPLY_PATCH = ToolSpec(
    name="apply_patch",
    description=(
        "Apply a unified diff to the workspace working tree (pygit2); a dry run only checks "
        "that it applies. Paths outside the workspace, inside .git or of the console's own "
        "files, executables and mode changes are refused."
    ),
    risk=Risk.HIGH,
    args_model=PatchArgs,
    run=deferred_run(PATCH, "_run"),
    check=deferred_check(PATCH, "_check"),
    dry_run=deferred_run(PATCH, "_dry_run"),
    default_enabled=False,
    timeout_sec=60.0,
)

GIT_LOG = ToolSpec(
    name="git_log",
    description="Recent commits of the workspace repository: author, date, message, stats.",
    risk=Risk.LOW,
    args_model=LogArgs,
    run=deferred_run(HISTORY, "_log"),
    check=deferred_check(HISTORY, "_check_log"),
    timeout_sec=60,
    output_cap=2_000_000,
)

GIT_SHOW = ToolSpec(
    name="git_show",
    description="One commit of the workspace repository: its message and diff, capped.",
    risk=Risk.LOW,
    args_model=ShowArgs,
    run=deferred_run(HISTORY, "_show"),
    check=deferred_check(HISTORY, "_check_show"),
    timeout_sec=60,
    output_cap=SHOW_MAX_CHARS + 200_000,
)

GIT_TOOLS = [GIT_STATUS, GIT_DIFF]
PATCH_TOOLS = [APPLY_PATCH]
HISTORY_TOOLS = [GIT_LOG, GIT_SHOW]
