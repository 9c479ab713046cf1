"""Red team, promises 1 and 2: a kept gitlink listing is not trusted once git lists the
index through objects the kept answer's identity does not cover.

Shell git's submodule check keeps `ls-files --stage`'s answer while the index, shared
indexes, `config` and `config.worktree` keep their identity (engine/safety/git_answers.py),
on the premise that the listing depends on nothing else. A sparse index breaks it: its
sparse-directory entries name a tree, and git expands them by reading that tree from
`.git/objects`. A tree that is missing is left out with an error on stderr and exit 0, so
the kept answer says "no gitlinks"; once the object arrives (a valid object, as a fetch or
the operator's own git would write it, the index untouched), `git status` expands the
directory, refreshes the gitlink in it and reads the repository its `.git` leads to
outside the workspace, while the kept answer still says there is none. Real git.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from engine.errors import ToolFailure
from engine.safety import git_answers
from engine.safety.git_hardening import prepare_git
from tests.engine.tools.test_gitlinks_read_by_git import ENV, git, workspace

OUTSIDE = "has its git directory outside the workspace"


@pytest.fixture(autouse=True)
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock a minute ahead: every file looks settled, so answers would be kept."""
    git_answers.forget()
    monkeypatch.setattr(git_answers, "clock", lambda: time.time() + 60)


def loose(ws: Path, oid: str) -> Path:
    return ws / ".git" / "objects" / oid[:2] / oid[2:]


def write_loose(ws: Path, kind: str, body: bytes) -> str:
    """A valid loose object, written as git writes one; its id."""
    raw = f"{kind} {len(body)}\0".encode() + body
    oid = hashlib.sha1(raw).hexdigest()
    loose(ws, oid).parent.mkdir(exist_ok=True)
    loose(ws, oid).write_bytes(zlib.compress(raw))
    return oid


def sparse_index_naming(ws: Path, tree: str) -> None:
    """An index whose sparse directory `d/` names `tree` (git makes `d/` sparse around a
    plain file; the entry's object id is then swapped and the checksum made again)."""
    (ws / "d").mkdir()
    (ws / "d" / "f").write_text("x\n")
    (ws / "keep").mkdir()
    (ws / "keep" / "k").write_text("y\n")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "dirs")
    git(ws, "sparse-checkout", "init", "--cone", "--sparse-index")
    git(ws, "sparse-checkout", "set", "keep")
    listed = subprocess.run(
        ["git", "ls-files", "--stage", "--sparse"], cwd=ws, env=ENV, capture_output=True
    ).stdout.decode()
    plain = next(line.split()[1] for line in listed.splitlines() if line.endswith("\td/"))
    index = ws / ".git" / "index"
    data = index.read_bytes()[:-20].replace(bytes.fromhex(plain), bytes.fromhex(tree))
    index.write_bytes(data + hashlib.sha1(data).digest())


def test_a_gitlink_behind_a_sparse_directory_is_found_when_its_tree_arrives(
    tmp_path: Path,
) -> None:
    ws, outside = workspace(tmp_path)
    blob = subprocess.run(
        ["git", "hash-object", "--stdin"], input=b"x\n", cwd=ws, env=ENV, capture_output=True
    ).stdout.decode()
    gitlink = bytes.fromhex("1" * 40)  # a commit; nothing reads it
    tree_body = b"100644 f\0" + bytes.fromhex(blob.strip()) + b"160000 sub\0" + gitlink
    tree = write_loose(ws, "tree", tree_body)  # `d/` as it will be: a file and a gitlink
    held = loose(ws, tree).read_bytes()
    loose(ws, tree).unlink()  # not here yet: git leaves `d/` out of the listing
    sparse_index_naming(ws, tree)
    (ws / "d" / "sub").mkdir(parents=True)
    (ws / "d" / "sub" / ".git").write_text(f"gitdir: {outside / '.git'}\n")
    prepare_git(["git", "status"], ws)  # nothing to refuse yet: git lists no gitlink
    prepare_git(["git", "status"], ws)

    loose(ws, tree).write_bytes(held)  # the tree arrives; the index and config untouched
    with pytest.raises(ToolFailure, match=f"submodule 'd/sub' {OUTSIDE}"):
        prepare_git(["git", "status"], ws)
