"""Hostile repository layouts against git_status, git_diff, apply_patch and hardened git.

Every layout is a real git repository built with the real `git` in a tmp dir, armed with
configuration (hooks, fsmonitor, pagers, editors, external diff, textconv, filter and merge
drivers, aliases, signature programs, credential helpers) that would run `evil.sh`, which
writes a marker. Next to it lies a secret outside the workspace. The tools run through
`Engine.run`; the subprocess path runs real git with what `prepare_git` gives it (wiring it
into shell_exec is tested with shell_exec). Each test proves the marker is never written and
the secret (or an outside commit id) never appears in any output.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest
from pygit2.enums import ConfigLevel

from engine import Engine
from engine.errors import PolicyError, ToolFailure
from engine.safety import git_hardening
from engine.safety.commands import scrubbed_env
from engine.safety.git_hardening import (
    DRIVER_KEYS,
    HARDENED_CONFIG,
    driver_overrides,
    git_dir_of,
    prepare_git,
)
from engine.safety.git_repo import harden_libgit2
from tests.conftest import make_settings

SECRET = "OUTSIDE-SECRET-5b1e"
CLEAN_ENV = {
    "PATH": os.environ.get("PATH", os.defpath),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}
HOOKS = (
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "post-checkout",
    "post-index-change",
    "reference-transaction",
    "fsmonitor-watchman",
    "pre-auto-gc",
)


def git(cwd: Path, *args: str) -> str:
    """The real git, for building layouts (no system or user configuration)."""
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=" + os.devnull, *args],
        cwd=cwd,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


@dataclass
class Trap:
    """A program that leaves a marker, and a secret outside every workspace."""

    evil: Path
    marker: Path
    outside: Path

    def fired(self) -> str:
        return self.marker.read_text() if self.marker.exists() else ""

    def arm(self, config: Path, hooks: Path | None = None) -> None:
        """Point every program-valued key of the git config file `config` at evil."""
        evil = str(self.evil)
        for key, value in (
            ("core.fsmonitor", evil),
            ("core.pager", evil),
            ("core.editor", evil),
            ("sequence.editor", evil),
            ("core.sshCommand", evil),
            ("core.askPass", evil),
            ("credential.helper", evil),
            ("diff.external", evil),
            ("diff.y.textconv", evil),
            ("diff.y.command", evil),
            ("filter.x.clean", evil),
            ("filter.x.smudge", evil),
            ("filter.x.process", evil),
            ("filter.x.required", "true"),
            ("filter.a=b.clean", evil),
            ("merge.z.driver", evil),
            ("gpg.program", evil),
            ("alias.st", "!" + evil),
            ("pager.status", evil),
            ("pager.diff", evil),
            ("pager.log", evil),
            ("log.showSignature", "true"),
            ("core.hooksPath", str(self.evil.parent / "hooks")),
        ):
            git(config.parent, "config", "--file", str(config), key, value)
        for folder in (hooks, self.evil.parent / "hooks"):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                for name in HOOKS:
                    shutil.copy(self.evil, folder / name)


@pytest.fixture
def trap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Trap:
    trap_dir = tmp_path / "trap"
    trap_dir.mkdir()
    marker = tmp_path / "MARKER"
    evil = trap_dir / "evil.sh"
    evil.write_text(f'#!/bin/sh\necho "ran $0 $*" >> {marker}\ncat\n')
    evil.chmod(0o755)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    t = Trap(evil, marker, outside)
    # A hostile user configuration too: git must read neither it nor the system's.
    home = tmp_path / "home"
    home.mkdir()
    t.arm(home / ".gitconfig")
    xdg = home / ".config" / "git"
    xdg.mkdir(parents=True)
    t.arm(xdg / "config")
    (xdg / "attributes").write_text("* filter=x diff=y\n")
    monkeypatch.setenv("HOME", str(home))
    return t


def real_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in (files or {"a.txt": "one\ntwo\nthree\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "initial")
    return path


def stale(path: Path) -> None:
    """Make the index's stat data stale, so git must re-read (and filter) the file."""
    os.utime(path, (946_684_800, 946_684_800))


@asynccontextmanager
async def engine_on(workspace: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    db = tmp_path / "state" / f"{workspace.name}.db"
    async with Engine.open(make_settings(workspace, db)) as eng:
        await eng.set_tool_enabled("apply_patch", True)
        yield eng


async def run_tool(eng: Engine, tool: str, args: dict[str, Any] | None = None) -> Any:
    args = args or {}
    if tool == "apply_patch":
        grant = await eng.grant(tool, args)
        return await eng.run(tool, args, approval_id=grant.id)
    return await eng.run(tool, args)


def shell_git(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git as shell_exec would: the hardened argv and environment, nothing else."""
    argv, extra = prepare_git(["git", *args], workspace)
    return subprocess.run(
        argv,
        cwd=workspace,
        env=scrubbed_env(extra),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def shown(*outputs: Any) -> str:
    """Everything an agent would get back, as one text."""
    parts = []
    for out in outputs:
        if isinstance(out, subprocess.CompletedProcess):
            parts += [out.stdout, out.stderr]
        elif hasattr(out, "model_dump"):
            parts.append(json.dumps(out.model_dump(mode="json")))
        else:
            parts.append(str(out))
    return "\n".join(parts)


MODIFY_A = "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
SHELL_COMMANDS = (("status",), ("diff",), ("log", "-p"), ("show",), ("diff", "--stat"))


# -- layouts that are not a repository root ------------------------------------------------


async def test_workspace_below_a_hostile_parent_repository(trap: Trap, tmp_path: Path) -> None:
    parent = real_repo(tmp_path / "parent", {"secret.txt": SECRET + "\n"})
    trap.arm(parent / ".git" / "config", parent / ".git" / "hooks")
    ws = parent / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("one\ntwo\nthree\n")
    stale(parent / "secret.txt")
    async with engine_on(ws, tmp_path) as eng:
        status = await run_tool(eng, "git_status")
        diff = await run_tool(eng, "git_diff")
        patched = await run_tool(eng, "apply_patch", {"patch": MODIFY_A})
    for refused in (status, diff):
        assert refused.status == "error"
        assert "is not a git repository root" in (refused.error or "")
    assert patched.status == "ok", patched.error  # a plain directory: a private bare repo
    assert (ws / "a.txt").read_text() == "one\nTWO\nthree\n"
    assert not (ws / ".git").exists()
    for command in SHELL_COMMANDS:
        with pytest.raises(ToolFailure, match="is not a git repository root"):
            prepare_git(["git", *command], ws)
    assert trap.fired() == ""
    assert SECRET not in shown(status, diff, patched)


async def test_workspace_shaped_like_a_bare_repository(trap: Trap, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    git(ws, "init", "-q", "--bare")
    trap.arm(ws / "config", ws / "hooks")
    git(ws, "config", "--file", "config", "core.bare", "false")
    git(ws, "config", "--file", "config", "core.worktree", str(trap.outside))
    (ws / "a.txt").write_text("one\ntwo\nthree\n")
    (ws / ".gitattributes").write_text("* filter=x diff=y\n")
    outside_before = sorted(p.name for p in trap.outside.iterdir())
    async with engine_on(ws, tmp_path) as eng:
        status = await run_tool(eng, "git_status")
        diff = await run_tool(eng, "git_diff")
        patched = await run_tool(eng, "apply_patch", {"patch": MODIFY_A})
    for refused in (status, diff):
        assert refused.status == "error"
        assert "is not a git repository root" in (refused.error or "")
    assert patched.status == "ok", patched.error
    assert (ws / "a.txt").read_text() == "one\nTWO\nthree\n"  # in the workspace, unfiltered
    assert sorted(p.name for p in trap.outside.iterdir()) == outside_before
    for command in SHELL_COMMANDS:
        with pytest.raises(ToolFailure, match="is not a git repository root"):
            prepare_git(["git", *command], ws)
    assert trap.fired() == ""
    assert SECRET not in shown(status, diff, patched)


async def test_dot_git_file_pointing_outside_is_refused(trap: Trap, tmp_path: Path) -> None:
    elsewhere = real_repo(trap.outside / "repo", {"a.txt": SECRET + "\n"})
    trap.arm(elsewhere / ".git" / "config", elsewhere / ".git" / "hooks")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
    (ws / "a.txt").write_text("one\ntwo\nthree\n")
    async with engine_on(ws, tmp_path) as eng:
        results = [
            await run_tool(eng, "git_status"),
            await run_tool(eng, "git_diff"),
            await run_tool(eng, "apply_patch", {"patch": MODIFY_A}),
        ]
    for result in results:
        assert result.status == "error"
        assert ".git is a file pointing to another git directory" in (result.error or "")
    for command in SHELL_COMMANDS:
        with pytest.raises(ToolFailure, match="is a file pointing"):
            prepare_git(["git", *command], ws)
    assert (ws / "a.txt").read_text() == "one\ntwo\nthree\n"
    assert trap.fired() == ""
    assert SECRET not in shown(*results)


def _commondir(ws: Path, trap: Trap) -> None:
    elsewhere = real_repo(trap.outside / "common")
    (ws / ".git" / "commondir").write_text(str(elsewhere / ".git") + "\n")


def _alternates(ws: Path, trap: Trap) -> None:
    elsewhere = real_repo(trap.outside / "objects-donor", {"s.txt": SECRET + "\n"})
    (ws / ".git" / "objects" / "info" / "alternates").write_text(
        str(elsewhere / ".git" / "objects") + "\n"
    )


def _include(ws: Path, trap: Trap) -> None:
    included = trap.outside / "included.cfg"
    included.write_text(f"[core]\n\tfsmonitor = {trap.evil}\n")
    with (ws / ".git" / "config").open("a") as config:
        config.write(f"[include]\n\tpath = {included}\n")


def _include_if(ws: Path, trap: Trap) -> None:
    included = trap.outside / "included.cfg"
    included.write_text(f"[core]\n\tpager = {trap.evil}\n")
    with (ws / ".git" / "config").open("a") as config:
        config.write(f'  [IncludeIf "gitdir:{ws}/"]\n\tpath = {included}\n')


def _include_after_header(ws: Path, trap: Trap) -> None:
    """git reads `[core] [include]` on one line as two section headers."""
    included = trap.outside / "included.cfg"
    included.write_text(f"[core]\n\tfsmonitor = {trap.evil}\n")
    with (ws / ".git" / "config").open("a") as config:
        config.write(f"[core] [include]\n\tpath = {included}\n")


def _symlinked_dot_git(ws: Path, trap: Trap) -> None:
    elsewhere = real_repo(trap.outside / "linked")
    shutil.rmtree(ws / ".git")
    (ws / ".git").symlink_to(elsewhere / ".git", target_is_directory=True)


def _symlinked_config(ws: Path, trap: Trap) -> None:
    hostile = trap.outside / "config"
    shutil.copy(ws / ".git" / "config", hostile)
    trap.arm(hostile)
    (ws / ".git" / "config").unlink()
    (ws / ".git" / "config").symlink_to(hostile)


def _symlinked_objects_dir(ws: Path, trap: Trap) -> None:
    donor = real_repo(trap.outside / "donor", {"s.txt": SECRET + "\n"})
    pack = ws / ".git" / "objects" / "pack"
    shutil.rmtree(pack)
    pack.symlink_to(donor / ".git" / "objects" / "pack", target_is_directory=True)


def _symlinked_pack_file(ws: Path, trap: Trap) -> None:
    donor = real_repo(trap.outside / "donor", {"s.txt": SECRET + "\n"})
    git(donor, "gc", "-q")
    for pack in (donor / ".git" / "objects" / "pack").iterdir():
        (ws / ".git" / "objects" / "pack" / pack.name).symlink_to(pack)


def _symlinked_exclude(ws: Path, trap: Trap) -> None:
    (ws / ".git" / "info").mkdir(exist_ok=True)
    (ws / ".git" / "info" / "exclude").unlink(missing_ok=True)
    (ws / ".git" / "info" / "exclude").symlink_to(trap.outside / "secret.txt")


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        (_commondir, "borrows from elsewhere"),
        (_alternates, "borrows from elsewhere"),
        (_include, "includes other configuration files"),
        (_include_if, "includes other configuration files"),
        (_include_after_header, "includes other configuration files"),
        (_symlinked_dot_git, "is a symbolic link"),
        (_symlinked_config, "is a symbolic link"),
        (_symlinked_objects_dir, "is a symbolic link"),
        (_symlinked_pack_file, "is a symbolic link"),
        (_symlinked_exclude, "is a symbolic link"),
    ],
)
async def test_repositories_that_borrow_from_outside_are_refused(
    trap: Trap, tmp_path: Path, layout: Any, words: str
) -> None:
    ws = real_repo(tmp_path / "ws")
    layout(ws, trap)
    (ws / "a.txt").write_text("one\n2\nthree\n")
    async with engine_on(ws, tmp_path) as eng:
        results = [
            await run_tool(eng, "git_status"),
            await run_tool(eng, "git_diff"),
            await run_tool(eng, "apply_patch", {"patch": MODIFY_A}),
        ]
    for result in results:
        assert result.status == "error" and words in (result.error or ""), result.error
    for command in SHELL_COMMANDS:
        with pytest.raises(ToolFailure, match=words):
            prepare_git(["git", *command], ws)
    assert trap.fired() == ""
    assert SECRET not in shown(*results)


async def test_core_worktree_elsewhere_never_shows_outside_files(
    trap: Trap, tmp_path: Path
) -> None:
    ws = real_repo(tmp_path / "ws", {"secret.txt": "inside\n"})
    git(ws, "config", "core.worktree", str(trap.outside))
    async with engine_on(ws, tmp_path) as eng:
        status = await run_tool(eng, "git_status")
        diff = await run_tool(eng, "git_diff")
    for refused in (status, diff):
        assert refused.status == "error" and "work tree elsewhere" in (refused.error or "")
    # The subprocess path works on the workspace whatever core.worktree says.
    outputs = [shell_git(ws, *command) for command in SHELL_COMMANDS]
    assert all(out.returncode == 0 for out in outputs), outputs
    assert "working tree clean" in outputs[0].stdout
    assert SECRET not in shown(status, diff, *outputs)


# -- a repository root whose own configuration is hostile ----------------------------------


@pytest.fixture
def hostile_root(trap: Trap, tmp_path: Path) -> Path:
    ws = real_repo(
        tmp_path / "ws",
        {
            "a.txt": "one\ntwo\nthree\n",
            "b.txt": "bee\n",
            "c.txt": "sea\n",
            ".gitattributes": "a.txt filter=x diff=y merge=z\nb.txt filter=a=b diff=y\n",
        },
    )
    trap.arm(ws / ".git" / "config", ws / ".git" / "hooks")
    git(ws, "config", "user.name", "T")
    git(ws, "config", "user.email", "t@example.com")
    (ws / "a.txt").write_text("one\n2\nthree\n")
    (ws / "b.txt").write_text("BEE\n")
    (ws / "c.txt").write_text("SEA\n")  # no attributes: diff.external would be its driver
    stale(ws / "a.txt")
    stale(ws / "b.txt")
    return ws


async def test_hostile_repository_config_runs_nothing_in_the_git_tools(
    trap: Trap, tmp_path: Path, hostile_root: Path
) -> None:
    ws = hostile_root
    async with engine_on(ws, tmp_path) as eng:
        status = await run_tool(eng, "git_status")
        diff = await run_tool(eng, "git_diff")
        patch = "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-2\n+TWO\n three\n"
        patched = await run_tool(eng, "apply_patch", {"patch": patch})
        after = await run_tool(eng, "git_diff", {"paths": ["a.txt"]})
    assert status.status == "ok" and status.result["short"] == " M a.txt\n M b.txt\n M c.txt"
    assert diff.status == "ok" and "-two\n+2\n" in diff.result["patch"]  # no textconv
    assert patched.status == "ok", patched.error
    assert (ws / "a.txt").read_text() == "one\nTWO\nthree\n"  # no smudge filter either
    assert "+TWO\n" in after.result["patch"]
    assert trap.fired() == ""


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("status", "--short"),
        ("diff",),
        ("diff", "HEAD"),
        ("diff", "--stat"),
        ("log", "-p"),
        ("log", "--stat"),
        ("show",),
        ("blame", "a.txt"),
        ("annotate", "b.txt"),
        ("add", "a.txt"),
        ("commit", "-qam", "message"),
        ("commit", "-a"),  # an editor would be started for the message
        ("stash", "list"),
        ("ls-files", "--eol"),
        ("cat-file", "--filters", "HEAD:a.txt"),
        ("grep", "-e", "one"),
    ],
)
def test_hostile_repository_config_runs_nothing_in_shell_git(
    trap: Trap, hostile_root: Path, command: tuple[str, ...]
) -> None:
    out = shell_git(hostile_root, *command)
    assert trap.fired() == "", (command, out.stdout, out.stderr)
    if command != ("commit", "-a"):  # that one stops: the no-op editor leaves no message
        assert out.returncode == 0, (command, out.stderr)


@pytest.mark.parametrize(
    "command",
    [("diff", "--ext-diff"), ("log", "-p", "--textconv"), ("grep", "--textconv", "one")],
)
def test_re_enabled_drivers_fail_closed(
    trap: Trap, hostile_root: Path, command: tuple[str, ...]
) -> None:
    """An option that turns a driver back on finds only the null device: git stops."""
    out = shell_git(hostile_root, *command)
    assert out.returncode != 0
    assert trap.fired() == ""


def signed_commit(ws: Path) -> str:
    """A copy of HEAD carrying a (bogus) PGP signature, so `--show-signature` calls gpg."""
    head = git(ws, "rev-parse", "HEAD")
    header, _, message = git(ws, "cat-file", "commit", head).partition("\n\n")
    signature = "gpgsig -----BEGIN PGP SIGNATURE-----\n \n -----END PGP SIGNATURE-----"
    done = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=ws,
        env=CLEAN_ENV,
        input=f"{header}\n{signature}\n\n{message}\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_a_signed_commit_is_not_verified_by_the_repository_s_gpg(
    trap: Trap, hostile_root: Path
) -> None:
    signed_id = signed_commit(hostile_root)
    for command in (("log", "-1", signed_id), ("show", "--show-signature", signed_id)):
        shell_git(hostile_root, *command)
    assert trap.fired() == ""


@pytest.mark.parametrize(
    ("key", "command"),
    [
        ("core.fsmonitor", ("status",)),
        ("core.hooksPath", ("commit", "-qam", "message")),
        ("diff.external", ("diff", "--ext-diff", "c.txt")),
        ("gpg.", ("show", "--show-signature", "SIGNED")),
        (None, ("cat-file", "--filters", "HEAD:a.txt")),  # None: the per-driver overrides
    ],
)
def test_each_override_is_what_stops_its_program(
    trap: Trap, hostile_root: Path, monkeypatch: pytest.MonkeyPatch, key: Any, command: Any
) -> None:
    """Without the one override the armed program runs (so the setup really arms it);
    with it, nothing runs."""
    command = tuple(signed_commit(hostile_root) if c == "SIGNED" else c for c in command)
    shell_git(hostile_root, *command)
    assert trap.fired() == ""
    if key is None:
        monkeypatch.setattr(git_hardening, "driver_overrides", lambda names: [])
    else:
        kept = tuple(item for item in HARDENED_CONFIG if not item[0].startswith(key))
        assert len(kept) < len(HARDENED_CONFIG)
        monkeypatch.setattr(git_hardening, "HARDENED_CONFIG", kept)
    shell_git(hostile_root, *command)
    assert trap.fired() != ""


def test_no_pager_runs_even_on_a_terminal(trap: Trap, hostile_root: Path) -> None:
    """On a terminal git would start the repository's pager (the control run shows it);
    the hardened run prints directly."""
    for hardened in (True, False):
        argv, extra = prepare_git(["git", "log"], hostile_root)
        env = scrubbed_env(extra)
        if not hardened:
            argv, env = ["git", "log"], {**CLEAN_ENV, "HOME": str(Path.home())}
        leader, follower = pty.openpty()
        try:
            subprocess.run(
                argv,
                cwd=hostile_root,
                env=env,
                stdin=follower,
                stdout=follower,
                stderr=follower,
                timeout=60,
                check=False,
            )
        finally:
            os.close(follower)
            os.close(leader)
        assert (trap.fired() == "") is hardened


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["git", "-c", "core.pager=x", "log"], "before the subcommand"),
        (["git", "--git-dir=/tmp", "status"], "before the subcommand"),
        (["git", "-C", "..", "status"], "before the subcommand"),
        (["git", "--exec-path=/tmp", "status"], "before the subcommand"),
        (["git", "-p", "status"], "before the subcommand"),
        (["git", "st"], "not one of git's built-in commands"),
        (["git", "lfs", "status"], "not one of git's built-in commands"),
        (["git", "help", "log"], "starts other programs"),
        (["git", "difftool"], "starts other programs"),
        (["git", "hook", "run", "pre-commit"], "starts other programs"),
        (["git", "submodule--helper", "list"], "starts other programs"),
        (["git", "remote-ext", "x", "sh -c id"], "starts other programs"),
        (["git"], "needs a subcommand"),
    ],
)
def test_prepare_git_refuses_options_aliases_and_spawning_commands(
    trap: Trap, hostile_root: Path, argv: list[str], words: str
) -> None:
    with pytest.raises(PolicyError, match=words):
        prepare_git(argv, hostile_root)
    assert trap.fired() == ""


def test_every_driver_the_repository_defines_is_switched_off(hostile_root: Path) -> None:
    _, env = prepare_git(["git", "status"], hostile_root)
    count = int(env["GIT_CONFIG_COUNT"])
    config = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count)}
    for key, value in HARDENED_CONFIG:
        assert config[key] == value
    for driver, section in (("x", "filter"), ("a=b", "filter"), ("y", "diff"), ("z", "merge")):
        for key, value in DRIVER_KEYS[section]:
            assert config[f"{section}.{driver}.{key}"] == value
    assert env["GIT_DIR"] == str(hostile_root.resolve() / ".git")
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull and env["GIT_CONFIG_NOSYSTEM"] == "1"


def test_driver_overrides_keep_odd_names_whole() -> None:
    names = ["filter.a.b=c.clean", "diff.Q R.textconv", "diff.external", "merge.m.name"]
    keys = [key for key, _ in driver_overrides(names)]
    assert "filter.a.b=c.clean" in keys and "diff.Q R.textconv" in keys
    assert "merge.m.driver" in keys and not any(k.startswith("diff.external") for k in keys)


# -- submodules: a nested `.git` file pointing outside -------------------------------------


@pytest.fixture
def with_submodule(trap: Trap, tmp_path: Path) -> tuple[Path, str]:
    """A workspace whose `sub` is a gitlink; `sub/.git` points to an armed repository
    outside. Returns the workspace and the outside repository's commit id."""
    elsewhere = real_repo(trap.outside / "subrepo", {"s.txt": SECRET + "\n"})
    trap.arm(elsewhere / ".git" / "config", elsewhere / ".git" / "hooks")
    outside_head = git(elsewhere, "rev-parse", "HEAD")
    ws = real_repo(tmp_path / "ws")
    git(ws, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},sub")
    (ws / ".gitmodules").write_text('[submodule "sub"]\n\tpath = sub\n\turl = ./nowhere\n')
    git(ws, "add", ".gitmodules")
    git(ws, "commit", "-qm", "submodule")
    (ws / "sub").mkdir()
    (ws / "sub" / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
    (ws / "sub" / "s.txt").write_text("changed\n")
    (ws / "nested").mkdir()  # an untracked nested repository pointing outside, too
    (ws / "nested" / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
    return ws, outside_head


async def test_git_tools_never_enter_a_submodule(
    trap: Trap, tmp_path: Path, with_submodule: tuple[Path, str]
) -> None:
    ws, outside_head = with_submodule
    (ws / "a.txt").write_text("one\n2\nthree\n")
    async with engine_on(ws, tmp_path) as eng:
        status = await run_tool(eng, "git_status")
        diff = await run_tool(eng, "git_diff")
        git(ws, "update-index", "--cacheinfo", f"160000,{'2' * 40},sub")
        staged = await run_tool(eng, "git_diff", {"staged": True})
    assert status.status == "ok" and status.result["short"] == " M a.txt"
    assert diff.status == "ok" and [f["path"] for f in diff.result["files"]] == ["a.txt"]
    assert staged.status == "ok"
    lines = [line for line in staged.result["patch"].splitlines() if line[:1] in "+-"]
    assert lines == [
        "--- a/sub",
        "+++ b/sub",
        f"-Subproject commit {'1' * 40}",
        f"+Subproject commit {'2' * 40}",
    ]
    for command in SHELL_COMMANDS:  # git itself would read the outside repository
        with pytest.raises(ToolFailure, match="submodule 'sub' has its git directory outside"):
            prepare_git(["git", *command], ws)
    assert trap.fired() == ""
    text = shown(status, diff, staged)
    assert outside_head not in text and outside_head[:7] not in text and SECRET not in text


@pytest.mark.parametrize("how", ["gitfile", "symlinked-folder"])
def test_shell_git_refuses_any_submodule_that_leads_outside(
    trap: Trap, tmp_path: Path, how: str
) -> None:
    elsewhere = real_repo(trap.outside / "subrepo")
    trap.arm(elsewhere / ".git" / "config", elsewhere / ".git" / "hooks")
    ws = real_repo(tmp_path / "ws")
    git(ws, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},sub")
    if how == "gitfile":
        (ws / "sub").mkdir()
        (ws / "sub" / ".git").write_text("gitdir: ../../outside/subrepo/.git\n")
    else:
        (ws / "sub").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ToolFailure, match="outside the workspace"):
        prepare_git(["git", "status"], ws)
    assert trap.fired() == ""


def test_shell_git_works_with_a_submodule_kept_inside(trap: Trap, tmp_path: Path) -> None:
    """The usual layout (`sub/.git` -> `.git/modules/sub`) stays usable, and its armed
    config runs nothing either."""
    ws = real_repo(tmp_path / "ws")
    sub = real_repo(ws / "sub", {"s.txt": "s\n"})
    modules = ws / ".git" / "modules"
    modules.mkdir()
    (sub / ".git").rename(modules / "sub")
    (sub / ".git").write_text("gitdir: ../.git/modules/sub\n")
    git(modules / "sub", "config", "core.worktree", "../../../sub")
    trap.arm(modules / "sub" / "config", modules / "sub" / "hooks")
    git(ws, "add", "sub")
    git(ws, "commit", "-qm", "submodule")
    (sub / "s.txt").write_text("changed\n")
    stale(sub / "s.txt")
    outputs = [shell_git(ws, *command) for command in SHELL_COMMANDS]
    assert all(out.returncode == 0 for out in outputs), [o.stderr for o in outputs]
    assert "working tree clean" in outputs[0].stdout  # submodules are ignored
    assert trap.fired() == ""


async def test_apply_patch_never_writes_through_a_submodule(
    trap: Trap, tmp_path: Path, with_submodule: tuple[Path, str]
) -> None:
    ws, _ = with_submodule
    patch = "--- a/sub/s.txt\n+++ b/sub/s.txt\n@@ -1 +1 @@\n-changed\n+pwned\n"
    git_file = "--- /dev/null\n+++ b/other/.git\n@@ -0,0 +1 @@\n+gitdir: /tmp\n"
    async with engine_on(ws, tmp_path) as eng:
        into_sub = await run_tool(eng, "apply_patch", {"patch": patch})
        new_git_file = await run_tool(eng, "apply_patch", {"patch": git_file})
    if into_sub.status == "ok":  # libgit2 may patch the file; it is the workspace's own
        assert (ws / "sub" / "s.txt").read_text() == "pwned\n"
    assert new_git_file.status == "refused" and ".git" in (new_git_file.error or "")
    assert not (ws / "other").exists()
    assert (trap.outside / "subrepo" / "s.txt").read_text() == SECRET + "\n"
    assert trap.fired() == ""


# -- libgit2 reads no configuration from outside the repository ----------------------------


def test_libgit2_reads_no_system_or_user_configuration(tmp_path: Path) -> None:
    """The global search path really is where libgit2 looks (so the test can fail), and
    after hardening nothing there is read."""
    fake_home = tmp_path / "fake-home"
    fake_home.mkdir()
    (fake_home / ".gitconfig").write_text("[daena]\n\tprobe = from-the-user\n")
    ws = real_repo(tmp_path / "ws")
    try:
        pygit2.settings.search_path[ConfigLevel.GLOBAL] = str(fake_home)
        assert pygit2.Repository(str(ws)).config["daena.probe"] == "from-the-user"
    finally:
        harden_libgit2()
    for level in (ConfigLevel.SYSTEM, ConfigLevel.XDG, ConfigLevel.GLOBAL):
        assert pygit2.settings.search_path[level] == os.devnull
    assert "daena.probe" not in pygit2.Repository(str(ws)).config
    assert pygit2.settings.owner_validation is True


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
async def test_a_repository_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    ws = real_repo(tmp_path / "ws")
    for path in (ws, *ws.rglob("*")):
        os.lchown(path, 12345, 12345)
    async with engine_on(ws, tmp_path) as eng:
        status = await run_tool(eng, "git_status")
    assert status.status == "error" and "owned by another user" in (status.error or "")
    with pytest.raises(ToolFailure, match="owned by another user"):
        prepare_git(["git", "status"], ws)


def test_git_dir_of_accepts_a_plain_repository_root(trap: Trap, tmp_path: Path) -> None:
    ws = real_repo(tmp_path / "ws")
    assert git_dir_of(ws) == ws.resolve() / ".git"
    # A linked hooks folder is a common setup and harmless: no hook ever runs.
    shutil.rmtree(ws / ".git" / "hooks")
    (trap.outside / "hooks").mkdir()
    shutil.copy(trap.evil, trap.outside / "hooks" / "pre-commit")
    (ws / ".git" / "hooks").symlink_to(trap.outside / "hooks", target_is_directory=True)
    assert git_dir_of(ws) == ws.resolve() / ".git"
    git(ws, "config", "user.name", "T")
    git(ws, "config", "user.email", "t@example.com")
    (ws / "a.txt").write_text("changed\n")
    assert shell_git(ws, "commit", "-qam", "m").returncode == 0
    assert trap.fired() == ""


# -- strace: what really runs and what is really opened ------------------------------------


def _strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(
        ["strace", "-f", "-qq", "-o", os.devnull, "true"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


needs_strace = pytest.mark.skipif(not _strace_works(), reason="strace cannot trace here")


def traced(argv: list[str], log: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=%file,execve", "-o", str(log), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def executed(log: Path) -> set[str]:
    programs = set()
    for line in log.read_text().splitlines():
        if "execve(" in line and "= 0" in line:
            programs.add(line.split('execve("', 1)[1].split('"', 1)[0])
    return programs


@needs_strace
def test_hardened_git_runs_only_git_and_opens_nothing_outside(
    trap: Trap, tmp_path: Path, hostile_root: Path
) -> None:
    for number, command in enumerate([*SHELL_COMMANDS, ("commit", "-qam", "m")]):
        argv, extra = prepare_git(["git", *command], hostile_root)
        log = tmp_path / f"git-{number}.strace"
        traced(argv, log, cwd=hostile_root, env=scrubbed_env(extra))
        programs = {Path(p).name for p in executed(log)}
        assert programs <= {"git"}, (command, programs)
        text = log.read_text()
        assert str(trap.outside) not in text and str(trap.evil) not in text, command
        assert str(Path.home() / ".gitconfig") not in text  # the hostile user config
    assert trap.fired() == ""


@needs_strace
def test_git_tools_open_nothing_outside_the_workspace(
    trap: Trap, tmp_path: Path, with_submodule: tuple[Path, str]
) -> None:
    ws, _ = with_submodule
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from engine.tools.builtin.git import status, diff\n"
        "ws = Path(sys.argv[1])\n"
        "print(json.dumps([status(ws), diff(ws, False, []), diff(ws, True, [])]))\n"
    )
    log = tmp_path / "tools.strace"
    root = Path(__file__).resolve().parents[3]
    done = traced([sys.executable, "-c", script, str(ws)], log, cwd=root)
    assert done.returncode == 0, done.stderr
    programs = executed(log)
    assert all("python" in Path(p).name for p in programs), programs
    assert str(trap.outside) not in log.read_text()
    assert SECRET not in done.stdout
    assert trap.fired() == ""


# -- git_diff never shows the console's own files ------------------------------------------


async def test_git_diff_leaves_out_protected_files(tmp_path: Path) -> None:
    ws = real_repo(
        tmp_path / "ws",
        {
            ".env": "EXECUTION_TOKEN=old\n",
            "daena.toml": 'DAENA_OPERATOR = "op@test"\n',
            "a.txt": "one\n",
        },
    )
    os.link(ws / ".env", ws / "env-copy")  # another name of the same file
    git(ws, "add", "env-copy")
    git(ws, "commit", "-qm", "link")
    (ws / ".env").write_text("EXECUTION_TOKEN=tok-secret-123\n")
    (ws / "daena.toml").write_text('DAENA_OPERATOR = "op@test"\n# toml-secret-456\n')
    (ws / "a.txt").write_text("ONE\n")
    settings = make_settings(
        ws, tmp_path / "state" / "d.db", DAENA_CONFIG_FILE=str(ws / "daena.toml")
    )
    async with Engine.open(settings) as eng:
        unstaged = await eng.run("git_diff")
        git(ws, "add", "-A")
        staged = await eng.run("git_diff", {"staged": True})
        only_env = await eng.run("git_diff", {"paths": [".env"]})
        status = await eng.run("git_status")
    for result in (unstaged, staged):
        assert result.status == "ok" and result.result is not None, result.error
        assert [f["path"] for f in result.result["files"]] == ["a.txt"]
        assert result.result["protected_left_out"] == 3
        assert "3 protected paths" in result.result["note"]
    assert only_env.status == "refused" and "console's own files" in (only_env.error or "")
    assert status.status == "ok"  # names only, never content
    text = shown(unstaged, staged, only_env, status)
    assert "tok-secret-123" not in text and "toml-secret-456" not in text


# -- end to end: shell_exec through the engine ---------------------------------------------


async def run_shell(eng: Engine, command: str) -> Any:
    args = {"command": command}
    grant = await eng.grant("shell_exec", args)
    return await eng.run("shell_exec", args, approval_id=grant.id)


async def test_shell_exec_git_in_hostile_layouts_runs_nothing_else(
    trap: Trap, tmp_path: Path, hostile_root: Path
) -> None:
    async with engine_on(hostile_root, tmp_path) as eng:
        results = [
            await run_shell(eng, command)
            for command in ("git status", "git diff", "git log -p", "git diff --stat")
        ]
    for result in results:
        assert result.status == "ok", result.error
    assert "-two" in results[1].result["stdout"]  # the real change, no textconv
    assert trap.fired() == ""
    below = tmp_path / "parent"
    real_repo(below)
    trap.arm(below / ".git" / "config", below / ".git" / "hooks")
    (below / "ws").mkdir()
    async with engine_on(below / "ws", tmp_path) as eng:
        refused = await run_shell(eng, "git status")
    assert refused.status != "ok" and "not a git repository root" in (refused.error or "")
    assert trap.fired() == ""


async def test_a_cached_repository_is_checked_again_on_every_run(
    trap: Trap, tmp_path: Path
) -> None:
    ws = real_repo(tmp_path / "ws")
    elsewhere = real_repo(trap.outside / "elsewhere", {"s.txt": SECRET + "\n"})
    async with engine_on(ws, tmp_path) as eng:
        assert (await run_tool(eng, "git_status")).status == "ok"
        shutil.rmtree(ws / ".git")
        (ws / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
        swapped = await run_tool(eng, "git_status")
        diff = await run_tool(eng, "git_diff")
    for result in (swapped, diff):
        assert result.status == "error" and "is a file pointing" in (result.error or "")
    assert SECRET not in shown(swapped, diff)


def test_the_hardening_never_runs_a_git_found_in_the_workspace(
    trap: Trap, hostile_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative PATH entry would find `./git` in the workspace for the hardening's own
    configuration query; only absolute entries are searched."""
    fake = hostile_root / "git"
    shutil.copy(trap.evil, fake)
    monkeypatch.setenv("PATH", os.pathsep.join([".", "", os.environ["PATH"]]))
    git_hardening.git_builtins.cache_clear()
    try:
        prepare_git(["git", "status"], hostile_root)
    finally:
        git_hardening.git_builtins.cache_clear()
    assert trap.fired() == ""
