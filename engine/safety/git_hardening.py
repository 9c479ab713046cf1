"""Git that only the console's own configuration steers (security promises 1 and 2).

An allowlisted `git status` is harmless only if nothing the agent can shape decides what git
runs or reads. Git reads configuration from the system, the user, the repository and the
command line, discovers repositories by walking up from the working directory, follows
`.git` files and `commondir`/`alternates` links to directories anywhere, and starts hooks,
fsmonitor, pagers, editors, external diff, textconv, filter and merge drivers, credential
helpers, signature programs and aliases from that configuration. So every git command a tool
runs gets:

- a repository root checked by `git_dir_of` (shared with the libgit2 tools): the workspace's
  own real `.git` directory, which borrows nothing from elsewhere; anything else is refused
  with a clear message;
- an explicit repository (`GIT_DIR`, `GIT_WORK_TREE`): no discovery, never a parent
  repository, never the workspace itself taken as a bare one; and no submodule whose git
  directory lies outside the workspace (`refuse_outside_submodules`: git reads a gitlink's
  repository during every index refresh, whatever `diff.ignoreSubmodules` says);
- no system or global configuration (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL=/dev/null`);
- command-scope configuration (`GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`: it wins over the
  repository's own, needs no `key=value` splitting, and reaches every child git) that turns
  off each program git could start: the fixed keys of `HARDENED_CONFIG`, plus every filter,
  diff and merge driver the repository's config defines (`driver_overrides`), so a
  `.gitattributes` the agent writes has nothing to select;
- only git's built-in commands, with no global option before them, and never one whose
  purpose is to start other programs (`git help`, `git difftool`, `git hook` ...);
- `--no-ext-diff --no-textconv` for the commands that would otherwise use the drivers, so a
  neutralised driver does not make them fail.

Values were checked against git 2.39 (tests/engine/tools/test_git_hostile_repos.py):
filter commands set to "" are skipped; program-valued keys that have no "off" value are set
to the null device, which cannot be executed, so git reports "cannot run" and runs nothing.
`uploadpack.packObjectsHook` is deliberately not set: git honours it only from protected
(system, global, command-line) configuration, which this module never gives it.
`core.gitProxy` and `core.sshCommand` need a transport, which `protocol.allow=never` stops.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.errors import PolicyError, ToolFailure
from engine.safety import git_answers

# A program-valued key set to this runs nothing: the null device cannot be executed.
NO_PROGRAM = os.devnull

# Command-scope configuration: each entry turns off a way git could start a program, read a
# file outside the repository, or enter another repository.
HARDENED_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", os.devnull),  # hooks are looked up below a path that holds none
    ("core.fsmonitor", "false"),
    ("core.pager", "cat"),  # git treats `cat` as "no pager" (and --no-pager is given)
    ("core.editor", ":"),  # git's own no-op editor
    ("sequence.editor", ":"),
    ("core.askPass", ""),  # empty: no askpass program (SSH_ASKPASS is not consulted then)
    ("credential.helper", ""),  # empty resets the list of credential helpers
    ("core.sshCommand", NO_PROGRAM),
    ("core.alternateRefsCommand", NO_PROGRAM),
    ("diff.external", NO_PROGRAM),
    ("gpg.program", NO_PROGRAM),
    ("gpg.openpgp.program", NO_PROGRAM),
    ("gpg.x509.program", NO_PROGRAM),
    ("gpg.ssh.program", NO_PROGRAM),
    ("gpg.ssh.defaultKeyCommand", NO_PROGRAM),
    ("log.showSignature", "false"),
    ("core.excludesFile", os.devnull),  # never an ignore or attributes file from elsewhere
    ("core.attributesFile", os.devnull),
    ("diff.ignoreSubmodules", "all"),  # never look into a submodule's repository
    ("status.submoduleSummary", "false"),
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("protocol.allow", "never"),  # no transport at all: no ssh, proxies or remote helpers
    ("safe.bareRepository", "explicit"),
    ("core.untrackedCache", "false"),
    ("maintenance.auto", "false"),  # no background `git maintenance` after a commit
    ("gc.auto", "0"),
)

# Per-driver keys that start a program, and the value that turns each off.
DRIVER_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "filter": (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")),
    "diff": (("command", NO_PROGRAM), ("textconv", NO_PROGRAM)),
    "merge": (("driver", NO_PROGRAM),),
}

# Options added right after these subcommands so they never consult a driver.
_NO_DRIVER_OPTIONS: dict[str, tuple[str, ...]] = {
    "diff": ("--no-ext-diff", "--no-textconv"),
    "log": ("--no-ext-diff", "--no-textconv"),
    "show": ("--no-ext-diff", "--no-textconv"),
    "whatchanged": ("--no-ext-diff", "--no-textconv"),
    "blame": ("--no-textconv",),
    "annotate": ("--no-textconv",),
}

# Built-in commands whose purpose is to start other programs or reach other repositories.
_SPAWNING = frozenset(
    {
        "help",
        "difftool",
        "maintenance",
        "hook",
        "remote-ext",
        "remote-fd",
        "for-each-repo",
        "credential",
        "credential-cache",
        "credential-store",
        "upload-pack",
        "receive-pack",
        "upload-archive",
        "bugreport",
        "diagnose",
    }
)

# Anywhere, not only at a line's start: git reads `[core] [include]` as two headers. A value
# that merely contains "[include" is refused too (fail safe).
_INCLUDE_HEADER = re.compile(r"\[\s*include(?:if)?\b", re.IGNORECASE)
_MAX_CONFIG_BYTES = 1_000_000
_TIMEOUT_SEC = 10.0
GITLINK_MODE = "160000"  # an index entry that is a submodule's commit


def git_dir_of(workspace: Path) -> Path:
    """The workspace's own `.git` directory; refuse anything else with a clear message.

    Refused: no `.git` (a workspace below another repository, or shaped like a git directory
    itself), a `.git` file (submodule or linked worktree pointing elsewhere), a symlinked
    `.git` or symlinks directly inside it, `info`, `objects`, `objects/info` or
    `objects/pack`, a `commondir` or `alternates` link to another repository, a config that
    includes other files, and a repository another user owns.
    """
    root = workspace.resolve()
    dot_git = root / ".git"
    if dot_git.is_symlink():
        raise ToolFailure(f"workspace: {dot_git} is a symbolic link; git tools refuse it")
    if dot_git.is_file():
        raise ToolFailure(
            f"workspace: {dot_git} is a file pointing to another git directory (a submodule "
            "or linked worktree); git tools run only at a repository root with its own .git"
        )
    if not dot_git.is_dir():
        raise ToolFailure(
            f"workspace: {root} is not a git repository root (no .git directory); "
            "git tools never use a repository found above or shaped by the workspace"
        )
    _refuse_foreign_owner(root, dot_git)
    for folder in ("", "info", "objects", "objects/info", "objects/pack"):
        _refuse_links_in(dot_git / folder)
    for borrowed in ("commondir", "objects/info/alternates"):
        if os.path.lexists(dot_git / borrowed):
            raise ToolFailure(
                f"workspace: {dot_git / borrowed} makes git read another repository's "
                "files; git tools refuse a repository that borrows from elsewhere"
            )
    for name in ("config", "config.worktree"):
        _refuse_includes(dot_git / name)
    return dot_git


def _refuse_foreign_owner(*paths: Path) -> None:
    """Git's and libgit2's ownership rule, for every path here: a repository another user
    owns could carry configuration that user chose. (git skips the check when `GIT_DIR` is
    given explicitly, as here, so it is made here; POSIX only.)"""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return
    for path in paths:
        owner = path.stat().st_uid
        if owner != getuid():
            raise ToolFailure(
                f"workspace: {path} is owned by another user (uid {owner}); git tools use "
                "only repositories the console's own user owns"
            )


def _refuse_links_in(folder: Path) -> None:
    """A link in these folders would have git read files elsewhere. `.git/hooks` may be a
    link (a common setup): no hook ever runs, and nothing reads it."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    except OSError as err:
        raise ToolFailure(f"workspace: cannot read {folder}: {err.strerror}") from err
    for entry in entries:
        if entry.is_symlink() and not (entry.name == "hooks" and folder.name == ".git"):
            raise ToolFailure(
                f"workspace: {entry.path} is a symbolic link; git tools refuse a repository "
                "whose files may lie outside it"
            )


def _refuse_includes(config: Path) -> None:
    try:
        with config.open("rb") as handle:
            data = handle.read(_MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return
    except OSError as err:
        raise ToolFailure(f"workspace: cannot read {config}: {err.strerror}") from err
    if len(data) > _MAX_CONFIG_BYTES:
        raise ToolFailure(f"workspace: {config} is larger than {_MAX_CONFIG_BYTES} bytes")
    if _INCLUDE_HEADER.search(data.decode("utf-8", "replace")):
        raise ToolFailure(
            f"workspace: {config} includes other configuration files; git tools refuse it "
            "(git would read configuration from outside the repository)"
        )


def refuse_outside_submodules(base_env: dict[str, str], workspace: Path, git: str) -> None:
    """Every gitlink's `.git` must lead to a git directory inside the workspace.

    Git compares a submodule's checked-out commit by reading its repository during the index
    refresh of `status` and `diff`, even with submodules ignored, so a `sub/.git` file
    pointing elsewhere would make it read there. (libgit2's work-tree diffs skip submodules
    entirely, so the git tools do not need this.) The gitlinks are the index as git itself
    reads it (`ls-files --stage` reads the index only: no refresh, no submodule entered, no
    program started with fsmonitor off), which keeps libgit2 out of the slim node install."""
    dot_git = Path(base_env["GIT_DIR"])
    if not (dot_git / "index").is_file():
        return
    env = {**base_env, **_config_env(HARDENED_CONFIG)}
    root = dot_git.parent
    for path in _kept_answer(git, ["ls-files", "--stage", "-z"], env, workspace, _gitlinks):
        folder = root / path
        link = folder / ".git"
        if not os.path.lexists(link):
            continue
        target = _git_dir_behind(link)
        if not folder.resolve().is_relative_to(root) or not target.is_relative_to(root):
            raise ToolFailure(
                f"workspace: submodule {path!r} has its git directory outside the "
                f"workspace ({target}); git would read it, so shell git is refused here"
            )


def _gitlinks(listed: str) -> tuple[str, ...]:
    """The paths of the gitlinks in `ls-files --stage -z` output."""
    found = []
    for record in listed.split("\0"):
        # "<mode> <object> <stage>\t<path>"; a gitlink's mode is 160000
        fields, _, path = record.partition("\t")
        if fields.startswith(f"{GITLINK_MODE} "):
            found.append(path)
    return tuple(found)


def _git_dir_behind(link: Path) -> Path:
    """Where a `.git` entry leads (a gitfile's `gitdir:`, or the entry itself), resolved."""
    if link.is_symlink() or not link.is_file():
        return link.resolve()
    text = link.read_bytes()[:4096].decode("utf-8", "replace")
    target = text.partition("gitdir:")[2].strip() if text.startswith("gitdir:") else ""
    return (link.parent / target).resolve() if target else link.resolve()


def _base_env(workspace: Path) -> dict[str, str]:
    dot_git = git_dir_of(workspace)
    root = dot_git.parent
    return {
        "GIT_DIR": str(dot_git),
        "GIT_WORK_TREE": str(root),
        "GIT_CEILING_DIRECTORIES": str(root.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_PARAMETERS": "",  # no inherited `-c` values
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "GIT_EDITOR": ":",
        "GIT_SEQUENCE_EDITOR": ":",
        "GIT_ASKPASS": "",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_PROTOCOL_FROM_USER": "0",
    }


def _run_git(git: str, args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Output of a git query the hardening itself needs (not an agent's command)."""
    # Only absolute PATH entries, and the program looked up here: a relative entry (`.`, an
    # empty one) would find a `git` in the workspace, which the agent writes.
    search = os.pathsep.join(
        d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.isabs(d)
    )
    program = git if os.path.dirname(git) else shutil.which(git, path=search)
    if program is None:
        raise ToolFailure(f"command: {git!r} was not found on the absolute PATH entries")
    full_env = {"PATH": search, **env}
    for name in ("SYSTEMROOT", "HOME", "USERPROFILE"):
        if name in os.environ:
            full_env.setdefault(name, os.environ[name])
    try:
        done = subprocess.run(
            [program, *args],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            timeout=_TIMEOUT_SEC,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolFailure(f"command: cannot run {git} {' '.join(args)}: {err}") from err
    if done.returncode != 0:
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise ToolFailure(f"command: {git} {' '.join(args)}: {last[0][:200]}")
    return done.stdout.decode("utf-8", "surrogateescape")


def _kept_answer(
    git: str,
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    parse: Callable[[str], tuple[str, ...]],
) -> tuple[str, ...]:
    """`parse` of `_run_git`'s output, for a query that reads only the git directory's own
    files: asked (and parsed) again only when one of them changed (engine/safety/git_answers.py)."""
    git_dir = Path(env["GIT_DIR"])
    key = (*args, git, os.environ.get("PATH", os.defpath), str(git_dir), str(cwd))
    return git_answers.answer(key, git_dir, lambda: parse(_run_git(git, args, env, cwd)))


@functools.cache
def git_builtins(git: str = "git") -> frozenset[str]:
    """The names of git's built-in commands (asked once per git program)."""
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    listed = _run_git(git, ["--list-cmds=builtins"], env, Path(os.path.abspath(os.sep)))
    return frozenset(listed.split())


def driver_overrides(config_names: list[str]) -> list[tuple[str, str]]:
    """For every filter, diff and merge driver among `config_names`, the values that turn
    each of its program keys off (whatever keys of it the repository set)."""
    seen: set[tuple[str, str]] = set()
    overrides: list[tuple[str, str]] = []
    for name in config_names:
        section, _, rest = name.partition(".")
        subsection, _, _key = rest.rpartition(".")
        section = section.lower()
        if section not in DRIVER_KEYS or not subsection or (section, subsection) in seen:
            continue
        seen.add((section, subsection))
        overrides += [(f"{section}.{subsection}.{k}", v) for k, v in DRIVER_KEYS[section]]
    return overrides


def repository_config_names(
    workspace: Path, git: str = "git", base_env: dict[str, str] | None = None
) -> list[str]:
    """Every variable name the repository's own configuration sets, as git itself parses it
    (includes are refused by `git_dir_of`, system and global configuration are off).
    `base_env`: `_base_env(workspace)` when the caller has just made it (its checks again)."""
    env = _base_env(workspace) if base_env is None else base_env
    args = ["config", "--list", "--name-only", "-z"]
    return list(_kept_answer(git, args, env, workspace, _names))


def _names(listed: str) -> tuple[str, ...]:
    return tuple(name for name in listed.split("\0") if name)


def hardened_git_env(workspace: Path, git: str = "git") -> dict[str, str]:
    """Environment entries for a git child: explicit repository, no outside configuration,
    and command-scope configuration that turns off every program git could start.

    Meant to be merged over an allow-listed environment (`scrubbed_env`), which carries no
    other `GIT_*` variable."""
    env = _base_env(workspace)
    refuse_outside_submodules(env, workspace, git)
    names = repository_config_names(workspace, git, env)
    config = [*HARDENED_CONFIG, *driver_overrides(names)]
    return {**env, **_config_env(config)}


def _config_env(config: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Command-scope configuration as `GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n` entries."""
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def git_subcommand(argv: list[str]) -> str:
    """The built-in subcommand argv runs; refuse global options, aliases, `git-*` programs
    and built-ins whose purpose is to start other programs."""
    if len(argv) < 2:
        raise PolicyError("command: git needs a subcommand")
    sub = argv[1]
    if sub.startswith("-"):
        raise PolicyError(
            f"command: git option {sub!r} before the subcommand is not allowed; the console "
            "chooses git's repository and configuration itself"
        )
    if sub in _SPAWNING or "--" in sub:
        raise PolicyError(f"command: 'git {sub}' starts other programs; it is not allowed")
    if sub not in git_builtins(argv[0]):
        raise PolicyError(
            f"command: 'git {sub}' is not one of git's built-in commands (aliases and "
            "git-* programs are not allowed)"
        )
    return sub


def hardened_git_argv(argv: list[str]) -> list[str]:
    """`git --no-pager <subcommand> [--no-ext-diff --no-textconv] <rest>`."""
    sub = git_subcommand(argv)
    return [argv[0], "--no-pager", sub, *_NO_DRIVER_OPTIONS.get(sub, ()), *argv[2:]]


def prepare_git(argv: list[str], workspace: Path) -> tuple[list[str], dict[str, str]]:
    """The argv and extra environment to run an (already allowlisted) git command with."""
    hardened = hardened_git_argv(argv)
    return hardened, hardened_git_env(workspace, argv[0])


def is_git(argv: list[str]) -> bool:
    """True when argv runs git (by program name, with or without `.exe`)."""
    return bool(argv) and Path(argv[0].replace("\\", "/")).name.lower() in ("git", "git.exe")
