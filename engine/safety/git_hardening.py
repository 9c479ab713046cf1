"""Git that only the operator's configuration steers (security promise 1, root cause 2).

An allowlisted `git status` is harmless only if nothing the agent can shape decides what git
runs. Git reads configuration from the system, the user, the repository and the command
line, discovers repositories by walking up from the working directory, follows `.git` files
to directories anywhere, and runs hooks, fsmonitor, pagers, external diff drivers,
credential helpers and signature programs from that configuration. So every git command a
tool runs gets:

- an explicit repository (`GIT_DIR=<workspace>/.git`, `GIT_WORK_TREE=<workspace>`): no
  discovery, never a parent repository, never the workspace itself taken as a bare one;
- no system or global configuration (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL=/dev/null`);
- command-line overrides (which win over the repository's config and reach submodule git
  processes through `GIT_CONFIG_PARAMETERS`) that switch off every program git could start.

A workspace whose `.git` is not a real directory (a gitfile pointing elsewhere, a symlink,
missing) is refused with a clear message: git tools work on a repository root only.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import ToolFailure

# `-c` overrides: each one turns off a way configuration can start a program or reach out.
HARDENED_CONFIG = (
    "core.hooksPath=" + os.devnull,
    "core.fsmonitor=false",
    "core.pager=cat",
    "core.editor=true",
    "core.sshCommand=false",
    "core.askPass=",
    "credential.helper=",
    "diff.external=",
    "diff.ignoreSubmodules=all",
    "status.submoduleSummary=false",
    "submodule.recurse=false",
    "log.showSignature=false",
    "gpg.program=false",
    "protocol.allow=never",
    "safe.bareRepository=explicit",
    "core.untrackedCache=false",
)


def git_dir_of(workspace: Path) -> Path:
    """The workspace's own `.git` directory; refuse anything else with a clear message."""
    dot_git = workspace / ".git"
    if dot_git.is_symlink():
        raise ToolFailure(f"workspace: {dot_git} is a symbolic link; git tools refuse it")
    if dot_git.is_file():
        raise ToolFailure(
            f"workspace: {dot_git} is a file pointing to another git directory (a submodule "
            "or linked worktree); git tools run only at a repository root with its own .git"
        )
    if not dot_git.is_dir():
        raise ToolFailure(
            f"workspace: {workspace} is not a git repository root (no .git directory); "
            "git tools never use a repository found above the workspace"
        )
    return dot_git


def hardened_git_env(workspace: Path) -> dict[str, str]:
    """Environment entries for a git child: explicit repository, no outside configuration."""
    dot_git = git_dir_of(workspace)
    return {
        "GIT_DIR": str(dot_git),
        "GIT_WORK_TREE": str(workspace),
        "GIT_CEILING_DIRECTORIES": str(workspace.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_PROTOCOL_FROM_USER": "0",
    }


def hardened_git_argv(argv: list[str]) -> list[str]:
    """`git <overrides> --no-pager <rest>`: the overrides come before the subcommand."""
    overrides = [part for item in HARDENED_CONFIG for part in ("-c", item)]
    return [argv[0], *overrides, "--no-pager", *argv[1:]]


def prepare_git(argv: list[str], workspace: Path) -> tuple[list[str], dict[str, str]]:
    """The argv and extra environment to run an (already allowlisted) git command with."""
    return hardened_git_argv(argv), hardened_git_env(workspace)


def is_git(argv: list[str]) -> bool:
    """True when argv runs git (by program name, with or without `.exe`)."""
    return bool(argv) and Path(argv[0].replace("\\", "/")).name.lower() in ("git", "git.exe")
