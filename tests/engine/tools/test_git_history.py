"""git_log and git_show against `git` itself on real repositories, and the attacks: a parent
repository, committed protected files, hostile revisions and paths, a huge commit."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pygit2
import pytest

from engine.errors import ConfinementError, EngineError, InputError
from engine.tools.builtin.git_catalogue import GIT_LOG, GIT_SHOW, LogArgs, ShowArgs
from engine.tools.spec import ToolContext
from tests.engine.tools.conftest import MakeCtx, commit_all

SECRET = "tok-SECRET-c0ffee"


def git(ws: Path, *argv: str) -> str:
    return subprocess.run(["git", *argv], cwd=ws, capture_output=True, text=True, check=True).stdout


async def call(spec: Any, model: Any, ctx: ToolContext) -> dict[str, Any]:
    spec.check(ctx, model)
    result: dict[str, Any] = await spec.run(ctx, model)
    return result


@pytest.fixture
def history(git_workspace: Path) -> Path:
    """Four commits: README edits, a src file, and one that committed `.env`."""
    ws = git_workspace
    repo = pygit2.Repository(str(ws))
    (ws / "src").mkdir()
    (ws / "src" / "app.py").write_text("print('one')\n")
    commit_all(repo, "add app\n\nwith a body line")
    (ws / "README.md").write_text("hello\nworld\n")
    (ws / ".env").write_text(f"EXECUTION_TOKEN={SECRET}\n")
    commit_all(repo, "readme and env")
    (ws / "src" / "app.py").write_text("print('two')\n")
    commit_all(repo, "change app")
    repo.free()
    return ws


async def test_log_matches_git_log(history: Path, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(history)
    got = await call(GIT_LOG, LogArgs(), ctx)
    assert [c["id"] for c in got["commits"]] == git(history, "log", "--format=%H").split()
    first = got["commits"][0]
    assert first["summary"] == "change app" and first["author"] == "Test"
    assert (first["files_changed"], first["added"], first["removed"]) == (1, 1, 1)
    only_src = await call(GIT_LOG, LogArgs(paths=["src"]), ctx)
    expected = git(history, "log", "--format=%H", "--", "src").split()
    assert [c["id"] for c in only_src["commits"]] == expected and len(expected) == 2
    two = await call(GIT_LOG, LogArgs(max_count=2, rev="HEAD~1"), ctx)
    assert [c["summary"] for c in two["commits"]] == ["readme and env", "add app"]


async def test_show_matches_git_show_and_leaves_env_out(history: Path, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(history)
    shown = await call(GIT_SHOW, ShowArgs(rev="HEAD~1"), ctx)
    assert shown["summary"] == "readme and env"
    assert [f["path"] for f in shown["files"]] == ["README.md"]
    assert "+world" in shown["patch"] and SECRET not in str(shown)
    assert shown["protected_left_out"] == 1
    logged = await call(GIT_LOG, LogArgs(), ctx)
    assert logged["commits"][1]["files_changed"] == 1  # .env not counted either
    root = await call(
        GIT_SHOW, ShowArgs(rev=git(history, "rev-list", "--max-parents=0", "HEAD").strip()), ctx
    )
    assert [f["path"] for f in root["files"]] == ["README.md"] and "+hello" in root["patch"]
    numstat = git(history, "show", "--numstat", "--format=", "HEAD~1").split("\n")
    assert "1\t0\tREADME.md" in numstat and any(".env" in line for line in numstat)


async def test_a_huge_commit_is_capped(git_workspace: Path, make_ctx: MakeCtx) -> None:
    (git_workspace / "big.txt").write_text("".join(f"line {i}\n" for i in range(100_000)))
    repo = pygit2.Repository(str(git_workspace))
    commit_all(repo, "big")
    repo.free()
    shown = await call(GIT_SHOW, ShowArgs(max_chars=5000), make_ctx(git_workspace))
    assert len(shown["patch"]) == 5000 and shown["truncated"] and "max_chars" in shown["note"]
    assert shown["files"] == [{"path": "big.txt", "added": 100_000, "removed": 0}]


@pytest.mark.parametrize(
    "rev", ["-n", "--output=/tmp/x", "HEAD;ls", "nope", "HEAD:README.md", "a b"]
)
async def test_hostile_revisions_are_refused(history: Path, make_ctx: MakeCtx, rev: str) -> None:
    with pytest.raises((InputError, ValueError)):
        await call(GIT_SHOW, ShowArgs(rev=rev), make_ctx(history))


@pytest.mark.parametrize("raw", ["../", "/etc", ".env"])
async def test_hostile_paths_are_refused(history: Path, make_ctx: MakeCtx, raw: str) -> None:
    ctx = make_ctx(history)
    with pytest.raises(ConfinementError):
        await call(GIT_LOG, LogArgs(paths=[raw]), ctx)


async def test_never_a_parent_repository(git_workspace: Path, make_ctx: MakeCtx) -> None:
    sub = git_workspace / "sub"
    sub.mkdir()
    (sub / "f.txt").write_text("x\n")
    with pytest.raises(EngineError, match="repository"):
        await call(GIT_LOG, LogArgs(), make_ctx(sub))


async def test_env_kept_only_in_history_stays_out(history: Path, make_ctx: MakeCtx) -> None:
    (history / ".env").unlink()  # gone from the work tree, its token still in history
    ctx = make_ctx(history)
    shown = await call(GIT_SHOW, ShowArgs(rev="HEAD~1"), ctx)
    logged = await call(GIT_LOG, LogArgs(), ctx)
    assert SECRET not in str(shown) and SECRET not in str(logged)
    assert shown["protected_left_out"] == 1
