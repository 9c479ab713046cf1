"""SPEC §4.1: every way out of the workspace is refused, through the real run pipeline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import ConfinementError, Engine, InputError
from engine.safety.paths import resolve_in_workspace


@pytest.fixture
def secret_sibling(workspace: Path) -> Path:
    """`ws-secret` beside `ws`: shares the string prefix, is outside by components."""
    sibling = workspace.parent / (workspace.name + "-secret")
    sibling.mkdir()
    (sibling / "key.txt").write_text("TOP SECRET\n")
    return sibling


ESCAPES = [
    "../outside.txt",
    "src/../../outside.txt",
    "/etc/passwd",
    "..\\outside.txt",
    "C:\\Windows\\win.ini",
    "C:/Windows/win.ini",
    "c:relative.txt",
    "\\\\server\\share\\file.txt",
    "//server/share/file.txt",
    "README.md\x00.txt",
]


@pytest.mark.parametrize("raw", ESCAPES)
def test_escape_forms_are_refused(workspace: Path, raw: str) -> None:
    with pytest.raises((ConfinementError, InputError)):
        resolve_in_workspace(workspace, raw)


def test_sibling_sharing_the_prefix_is_outside(workspace: Path, secret_sibling: Path) -> None:
    with pytest.raises(ConfinementError, match="outside the workspace"):
        resolve_in_workspace(workspace, f"../{secret_sibling.name}/key.txt")
    with pytest.raises(ConfinementError):
        resolve_in_workspace(workspace, str(secret_sibling / "key.txt"))


def test_symlink_leading_out_is_refused(workspace: Path, secret_sibling: Path) -> None:
    os.symlink(secret_sibling / "key.txt", workspace / "innocent.txt")
    os.symlink(secret_sibling, workspace / "linkdir")
    with pytest.raises(ConfinementError):
        resolve_in_workspace(workspace, "innocent.txt")
    with pytest.raises(ConfinementError):
        resolve_in_workspace(workspace, "linkdir/key.txt")


def test_paths_inside_are_accepted(workspace: Path) -> None:
    assert resolve_in_workspace(workspace, "src/app.py") == (workspace / "src/app.py").resolve()
    assert resolve_in_workspace(workspace, str(workspace / "README.md")).name == "README.md"
    assert resolve_in_workspace(workspace, "src/../README.md").name == "README.md"
    os.symlink(workspace / "README.md", workspace / "alias.md")
    assert resolve_in_workspace(workspace, "alias.md").name == "README.md"


def test_git_dir_refused_for_writers_only(workspace: Path) -> None:
    assert resolve_in_workspace(workspace, ".git/config").name == "config"
    with pytest.raises(ConfinementError, match=r"\.git"):
        resolve_in_workspace(workspace, ".git/hooks/pre-commit", allow_git_dir=False)


@pytest.mark.parametrize("raw", [*ESCAPES, "../ws-secret/key.txt"])
async def test_filesystem_read_refuses_escapes_and_leaks_nothing(
    eng: Engine, secret_sibling: Path, raw: str
) -> None:
    result = await eng.run("filesystem_read", {"path": raw})
    assert result.status == "refused"
    assert result.error and "path" in result.error
    assert "TOP SECRET" not in result.model_dump_json()
    record = await eng.audit.get(result.audit_id or 0)
    assert record is not None and record.status == "refused"


async def test_filesystem_read_symlink_out_refused(
    eng: Engine, workspace: Path, secret_sibling: Path
) -> None:
    os.symlink(secret_sibling / "key.txt", workspace / "innocent.txt")
    result = await eng.run("filesystem_read", {"path": "innocent.txt"})
    assert result.status == "refused"
    assert "TOP SECRET" not in result.model_dump_json()


async def test_git_diff_paths_are_confined(eng: Engine) -> None:
    result = await eng.run("git_diff", {"paths": ["../"]})
    assert result.status == "refused"
    assert result.error and result.error.startswith("paths:")
