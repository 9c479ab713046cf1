"""Shell git's own queries (the index's gitlinks, the repository's drivers) are kept while
the git directory's files are unchanged (engine/safety/git_answers.py), so a dry run
starts no git child; a gitlink or a driver added afterwards is still found.

Attacked through the ways a change could hide from a kept answer: a gitlink added by git
(index replaced), an index rewritten in place with its size and mtime kept, once within the
timestamp tick of the read and once after the answer was trusted, and a filter driver
defined after the answer was kept.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.errors import ToolFailure
from engine.safety import git_answers, git_hardening
from engine.safety.git_hardening import prepare_git
from tests.engine.tools.test_gitlinks_read_by_git import git, link_outside, workspace

OUTSIDE = "has its git directory outside the workspace"


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hardening's kept queries that really started git, in order."""
    asked: list[str] = []
    real = git_hardening._run_git

    def counted(program: str, args: list[str], env: dict[str, str], cwd: Path) -> str:
        if args[0] in ("ls-files", "config"):
            asked.append(args[0])
        return real(program, args, env, cwd)

    monkeypatch.setattr(git_hardening, "_run_git", counted)
    return asked


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock a minute ahead: every file looks settled, so answers are kept."""
    monkeypatch.setattr(git_answers, "clock", lambda: time.time() + 60)


def same_size_indexes(ws: Path, outside: Path) -> tuple[bytes, bytes]:
    """Two index images of the same size for `sub`: a regular file entry (harmless) and a
    gitlink whose `sub/.git` leads outside. The index is left holding the harmless one."""
    digest = "2" * 40  # the index only names the object; nothing reads it
    git(ws, "update-index", "--add", "--cacheinfo", f"100644,{digest},sub")
    harmless = (ws / ".git" / "index").read_bytes()
    git(ws, "update-index", "--cacheinfo", f"160000,{digest},sub")
    hostile = (ws / ".git" / "index").read_bytes()
    (ws / "sub").mkdir()
    (ws / "sub" / ".git").write_text(f"gitdir: {outside / '.git'}\n")
    assert len(harmless) == len(hostile) and harmless != hostile
    rewrite_in_place(ws / ".git" / "index", harmless)
    return harmless, hostile


def rewrite_in_place(path: Path, data: bytes, mtime_ns: int | None = None) -> None:
    """Overwrite `path`'s bytes on the same inode; put its mtime back to `mtime_ns`."""
    with path.open("r+b") as handle:
        handle.write(data)
        handle.truncate()
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_settled_repository_is_not_asked_again(
    tmp_path: Path, queries: list[str], settled: None
) -> None:
    ws, _ = workspace(tmp_path)
    prepare_git(["git", "status"], ws)
    assert queries == ["ls-files", "config"]
    for _ in range(3):
        _, env = prepare_git(["git", "status"], ws)
        assert env["GIT_DIR"] == str(ws / ".git")
    assert queries == ["ls-files", "config"]  # no git child for the checks


def test_files_changed_just_now_are_read_every_time(tmp_path: Path, queries: list[str]) -> None:
    ws, _ = workspace(tmp_path)  # its index and config were written a moment ago
    prepare_git(["git", "status"], ws)
    prepare_git(["git", "status"], ws)
    assert queries == ["ls-files", "config", "ls-files", "config"]


def test_a_gitlink_added_after_the_answer_was_kept_is_refused(
    tmp_path: Path, queries: list[str], settled: None
) -> None:
    ws, outside = workspace(tmp_path)
    prepare_git(["git", "status"], ws)
    prepare_git(["git", "status"], ws)
    assert queries.count("ls-files") == 1  # kept
    link_outside(ws, outside, "sub")
    with pytest.raises(ToolFailure, match=f"submodule 'sub' {OUTSIDE}"):
        prepare_git(["git", "status"], ws)


def test_an_index_rewritten_within_the_tick_of_the_read_is_read_again(
    tmp_path: Path, queries: list[str]
) -> None:
    """The same inode, size and mtime (and, this quickly, likely the same ctime): the first
    answer was never kept, because the index had changed just before it was read."""
    ws, outside = workspace(tmp_path)
    index = ws / ".git" / "index"
    _, hostile = same_size_indexes(ws, outside)
    before = index.stat()
    prepare_git(["git", "status"], ws)  # harmless: `sub` is a plain file entry
    rewrite_in_place(index, hostile, before.st_mtime_ns)
    after = index.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    with pytest.raises(ToolFailure, match=f"submodule 'sub' {OUTSIDE}"):
        prepare_git(["git", "status"], ws)


def test_an_index_rewritten_in_place_after_the_answer_was_kept_is_read_again(
    tmp_path: Path, queries: list[str], settled: None
) -> None:
    """Kept (the clock says the files are old), then rewritten in place with the same inode,
    size and mtime: its ctime moved, which no program can set back."""
    ws, outside = workspace(tmp_path)
    index = ws / ".git" / "index"
    _, hostile = same_size_indexes(ws, outside)
    before = index.stat()
    prepare_git(["git", "status"], ws)
    prepare_git(["git", "status"], ws)
    assert queries.count("ls-files") == 1  # kept
    scratch = tmp_path / "tick"
    scratch.write_text("")
    while scratch.stat().st_ctime_ns <= before.st_ctime_ns:  # the filesystem's clock moved on
        time.sleep(0.005)
        scratch.write_text("")
    rewrite_in_place(index, hostile, before.st_mtime_ns)
    after = index.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    with pytest.raises(ToolFailure, match=f"submodule 'sub' {OUTSIDE}"):
        prepare_git(["git", "status"], ws)
    assert queries.count("ls-files") == 2


def test_a_driver_defined_after_the_answer_was_kept_is_turned_off(
    tmp_path: Path, queries: list[str], settled: None
) -> None:
    ws, _ = workspace(tmp_path)
    _, env = prepare_git(["git", "status"], ws)
    assert "filter.evil.clean" not in env.values()
    prepare_git(["git", "status"], ws)
    assert queries.count("config") == 1  # kept
    git(ws, "config", "filter.evil.clean", "touch marker")
    _, env = prepare_git(["git", "status"], ws)
    keys = {env[k]: env[k.replace("KEY", "VALUE")] for k in env if k.startswith("GIT_CONFIG_KEY_")}
    assert keys["filter.evil.clean"] == ""  # the new driver runs nothing
    assert queries.count("config") == 2
