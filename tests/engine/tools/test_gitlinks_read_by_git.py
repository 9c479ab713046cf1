"""Shell git's submodule check reads the index with git itself (`ls-files --stage`), not
libgit2, so the slim node install works without pygit2 (docs/architecture.md).

Attacked here through the index forms and names an agent could leave: a gitlink whose path
holds a tab, a newline or a non-UTF-8 byte, an index in version 4 (prefix-compressed paths)
and a split index; each gitlink leads outside the workspace and must be refused. The check
also holds in a process where pygit2 cannot be imported at all, as on the slim node.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ToolFailure
from engine.safety.git_hardening import prepare_git

ENV = {
    "PATH": os.environ.get("PATH", os.defpath),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}
GITLINK = "160000," + "1" * 40


def git(cwd: Path, *args: str | bytes) -> None:
    subprocess.run(
        ["git", "-c", f"core.hooksPath={os.devnull}", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        check=True,
        timeout=60,
    )


def workspace(tmp_path: Path) -> tuple[Path, Path]:
    """A committed workspace repository and a repository outside it."""
    outside = tmp_path / "outside"
    for repo in (tmp_path / "ws", outside):
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "a.txt").write_text("one\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "initial")
    return tmp_path / "ws", outside


def link_outside(ws: Path, outside: Path, name: str | bytes) -> None:
    """A gitlink `name` in the index whose `.git` file leads to `outside`."""
    git(ws, "update-index", "--add", "--cacheinfo", f"{GITLINK},".encode() + os.fsencode(name))
    folder = ws / os.fsdecode(name)
    folder.mkdir(parents=True)
    (folder / ".git").write_text(f"gitdir: {outside / '.git'}\n")


@pytest.mark.parametrize(
    "name",
    ["sub", "deep/er/sub", "tab\tin name", "new\nline", b"non-utf8-\xff", "-dash", " space"],
    ids=["plain", "nested", "tab", "newline", "non-utf8", "dash", "space"],
)
def test_every_gitlink_name_is_read(tmp_path: Path, name: str | bytes) -> None:
    ws, outside = workspace(tmp_path)
    link_outside(ws, outside, name)
    with pytest.raises(ToolFailure, match="has its git directory outside the workspace"):
        prepare_git(["git", "status"], ws)


@pytest.mark.parametrize("form", ["index-v4", "split-index"])
def test_every_index_form_is_read(tmp_path: Path, form: str) -> None:
    ws, outside = workspace(tmp_path)
    for n in range(30):  # enough entries for prefix compression and a shared index to matter
        (ws / "dir" / f"file{n:02}.txt").parent.mkdir(exist_ok=True)
        (ws / "dir" / f"file{n:02}.txt").write_text(f"{n}\n")
    git(ws, "add", "-A")
    link_outside(ws, outside, "dir/sub")
    if form == "index-v4":
        git(ws, "update-index", "--index-version", "4")
    else:
        git(ws, "update-index", "--split-index")
        assert any(p.name.startswith("sharedindex.") for p in (ws / ".git").iterdir())
    with pytest.raises(ToolFailure, match="submodule 'dir/sub' has its git directory outside"):
        prepare_git(["git", "status"], ws)


def test_a_gitlink_kept_inside_is_allowed(tmp_path: Path) -> None:
    ws, _ = workspace(tmp_path)
    git(ws, "update-index", "--add", "--cacheinfo", f"{GITLINK},sub")
    (ws / "sub").mkdir()  # no `.git` in it: git has nothing to read there
    argv, env = prepare_git(["git", "status"], ws)
    assert argv[0] == "git" and env["GIT_DIR"] == str(ws / ".git")


def test_an_unreadable_index_refuses_shell_git(tmp_path: Path) -> None:
    ws, _ = workspace(tmp_path)
    (ws / ".git" / "index").write_bytes(b"DIRC\x00\x00\x00\x02garbage")
    with pytest.raises(ToolFailure, match="ls-files"):
        prepare_git(["git", "status"], ws)


def test_the_check_needs_no_pygit2(tmp_path: Path) -> None:
    """In a process where `import pygit2` fails (the slim node), the gitlink is still found."""
    ws, outside = workspace(tmp_path)
    link_outside(ws, outside, "sub")
    code = (
        "import sys; sys.modules['pygit2'] = None\n"
        "from pathlib import Path\n"
        "from engine.errors import ToolFailure\n"
        "from engine.safety.git_hardening import prepare_git\n"
        "try:\n"
        f"    prepare_git(['git', 'status'], Path({str(ws)!r}))\n"
        "except ToolFailure as err:\n"
        "    print(err.message)\n"
        "print('pygit2' in sys.modules and sys.modules['pygit2'] is not None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stdout.splitlines()
    assert "has its git directory outside the workspace" in lines[0], done.stdout
    assert lines[-1] == "False"
