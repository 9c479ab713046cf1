"""git_status, git_diff, filesystem_read and filesystem_write through the engine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine import Engine


def git_short(workspace: Path) -> list[str]:
    out = subprocess.run(
        ["git", "status", "--short"],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(line for line in out.splitlines() if line)


async def test_git_status_matches_git(eng: Engine, workspace: Path) -> None:
    (workspace / "README.md").write_text("changed\n")
    (workspace / "new.txt").write_text("new\n")
    (workspace / "fresh" / "deep").mkdir(parents=True)  # untracked dir: `?? fresh/`, as git
    (workspace / "fresh" / "deep" / "a.txt").write_text("a\n")
    (workspace / "src" / "app.py").unlink()
    result = await eng.run("git_status")
    assert result.status == "ok", result.error
    assert result.result is not None
    assert result.result["branch"] == "main"
    assert sorted(result.result["short"].splitlines()) == git_short(workspace)
    assert {"path": "new.txt", "status": "??"} in result.result["files"]


async def test_git_status_clean_and_not_a_repo(
    eng: Engine, workspace: Path, tmp_path: Path
) -> None:
    clean = await eng.run("git_status")
    assert clean.result is not None and clean.result["clean"] is True
    import shutil

    shutil.rmtree(workspace / ".git")
    broken = await eng.run("git_status")
    assert broken.status == "error"
    assert broken.error and "not a git repository" in broken.error


async def test_git_diff_unstaged_staged_and_paths(eng: Engine, workspace: Path) -> None:
    (workspace / "README.md").write_text("hello\nworld\n")
    (workspace / "src" / "app.py").write_text("print('bye')\n")
    diff = await eng.run("git_diff")
    assert diff.status == "ok" and diff.result is not None
    assert "+world" in diff.result["patch"]
    assert {f["path"] for f in diff.result["files"]} == {"README.md", "src/app.py"}
    only = await eng.run("git_diff", {"paths": ["src"]})
    assert only.result is not None
    assert [f["path"] for f in only.result["files"]] == ["src/app.py"]
    subprocess.run(["git", "add", "README.md"], cwd=workspace, check=True)
    staged = await eng.run("git_diff", {"staged": True})
    assert staged.result is not None
    assert [f["path"] for f in staged.result["files"]] == ["README.md"]
    assert staged.result["files"][0]["added"] == 1


async def test_filesystem_read_text_rules(eng: Engine, workspace: Path) -> None:
    ok = await eng.run("filesystem_read", {"path": "README.md"})
    assert ok.result == {"path": "README.md", "content": "hello\n", "size": 6}
    (workspace / "blob.bin").write_bytes(b"PK\x00\x01binary")
    binary = await eng.run("filesystem_read", {"path": "blob.bin"})
    assert binary.status == "error" and binary.error and "binary" in binary.error
    big = await eng.run("filesystem_read", {"path": "README.md", "max_bytes": 3})
    assert big.status == "error" and big.error and "cap" in big.error
    missing = await eng.run("filesystem_read", {"path": "nope.txt"})
    assert missing.status == "error" and missing.error and "does not exist" in missing.error
    invalid = await eng.run("filesystem_read", {"path": "README.md", "max_bytes": -1})
    assert (
        invalid.status == "refused" and invalid.error and invalid.error.startswith("args.max_bytes")
    )


@pytest.fixture
async def writer(eng: Engine) -> Engine:
    await eng.update_config({"tool_enabled": {"filesystem_write": True}, "approval_mode": "auto"})
    return eng


async def test_filesystem_write_atomic_and_reports(writer: Engine, workspace: Path) -> None:
    created = await writer.run(
        "filesystem_write", {"path": "notes/a.txt", "content": "x", "create_dirs": True}
    )
    assert created.result == {"path": "notes/a.txt", "bytes_written": 1, "action": "created"}
    again = await writer.run("filesystem_write", {"path": "notes/a.txt", "content": "héllo"})
    assert again.result == {"path": "notes/a.txt", "bytes_written": 6, "action": "overwritten"}
    assert (workspace / "notes/a.txt").read_text() == "héllo"
    assert not [p for p in (workspace / "notes").iterdir() if p.name.endswith(".tmp")]


async def test_filesystem_write_refusals(writer: Engine, workspace: Path) -> None:
    (workspace / "blob.bin").write_bytes(b"\x00\x01\x02")
    binary = await writer.run("filesystem_write", {"path": "blob.bin", "content": "text"})
    assert binary.status == "error" and binary.error and "binary" in binary.error
    assert (workspace / "blob.bin").read_bytes() == b"\x00\x01\x02"
    nul = await writer.run("filesystem_write", {"path": "a.txt", "content": "a\x00b"})
    assert nul.status == "error" and not (workspace / "a.txt").exists()
    no_dir = await writer.run("filesystem_write", {"path": "deep/a.txt", "content": "a"})
    assert no_dir.status == "error" and not (workspace / "deep").exists()
    git_hook = await writer.run(
        "filesystem_write", {"path": ".git/hooks/pre-commit", "content": "x"}
    )
    assert git_hook.status == "refused"
    assert not (workspace / ".git/hooks/pre-commit").exists()


async def test_write_dry_run_changes_nothing(writer: Engine, workspace: Path) -> None:
    result = await writer.run(
        "filesystem_write", {"path": "README.md", "content": "zz"}, dry_run=True
    )
    assert result.status == "dry_run"
    assert result.result == {"path": "README.md", "would": "overwrite", "bytes": 2}
    assert (workspace / "README.md").read_text() == "hello\n"


async def test_write_dry_run_checks_what_the_write_would(writer: Engine, workspace: Path) -> None:
    new_dirs = await writer.run(
        "filesystem_write",
        {"path": "a/b/c.txt", "content": "x", "create_dirs": True},
        dry_run=True,
    )
    assert new_dirs.result == {"path": "a/b/c.txt", "would": "create", "bytes": 1}
    assert not (workspace / "a").exists()
    under_a_file = await writer.run(
        "filesystem_write",
        {"path": "README.md/c.txt", "content": "x", "create_dirs": True},
        dry_run=True,
    )
    assert under_a_file.status == "error" and "not a directory" in (under_a_file.error or "")
    (workspace / "blob.bin").write_bytes(b"\x00\x01")
    binary = await writer.run(
        "filesystem_write", {"path": "blob.bin", "content": "t"}, dry_run=True
    )
    assert binary.status == "error" and "binary" in (binary.error or "")


async def test_git_tools_see_changes_made_between_runs(eng: Engine, workspace: Path) -> None:
    """The open repository is reused between runs; what git does outside must still show."""
    assert (await eng.run("git_status")).result["clean"] is True  # type: ignore[index]
    (workspace / "README.md").write_text("edited\n")
    assert git_short(workspace) == [" M README.md"]
    first = await eng.run("git_status")
    assert first.result is not None and first.result["short"] == " M README.md"
    subprocess.run(["git", "add", "README.md"], cwd=workspace, check=True)
    second = await eng.run("git_status")
    assert second.result is not None and second.result["short"] == "M  README.md"
    staged = await eng.run("git_diff", {"staged": True})
    assert staged.result is not None and [f["path"] for f in staged.result["files"]] == [
        "README.md"
    ]
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "edit"],
        cwd=workspace,
        check=True,
    )
    assert (await eng.run("git_status")).result["clean"] is True  # type: ignore[index]
