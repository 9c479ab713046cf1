"""docs/security.md, 2: every way out of the workspace is refused, through the real run pipeline."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import pytest

from engine import ConfinementError, Engine, InputError, NotFoundError
from engine.safety import nofollow
from engine.safety.paths import confine, resolve_in_workspace
from engine.safety.textfiles import confined_read, confined_write
from tests.support.races import INSIDE, race_rounds, swapping, unchanged


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


# -- the Windows fallback (no dir_fd), exercised here on POSIX ----------------------------------


@pytest.fixture
def without_dir_fd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the checked-path fallback the node uses on Windows."""
    monkeypatch.setattr(nofollow, "NOFOLLOW_SUPPORTED", False)


@pytest.mark.usefixtures("without_dir_fd")
def test_fallback_reads_and_writes_inside(workspace: Path) -> None:
    assert isinstance(nofollow.open_root(workspace), nofollow.CheckedDirectory)
    assert confined_read(workspace, "src/app.py").content == "print('hi')\n"
    written = confined_write(workspace, "new/deep/a.txt", "a\n", create_dirs=True)
    assert written.created and (workspace / "new/deep/a.txt").read_text() == "a\n"
    assert not confined_write(workspace, "new/deep/a.txt", "b\n").created
    assert stat.S_IMODE((workspace / "new/deep/a.txt").stat().st_mode) == 0o644
    with pytest.raises(InputError, match="not a regular file"):
        confined_read(workspace, "src")
    with pytest.raises(InputError, match="directory"):
        confined_write(workspace, "src", "x")


@pytest.mark.usefixtures("without_dir_fd")
def test_fallback_refuses_links_that_appear(workspace: Path, secret_sibling: Path) -> None:
    (workspace / "d").mkdir()
    (workspace / "d" / "key.txt").write_text("inside\n")
    target = confine(workspace, "d/key.txt")
    os.rename(workspace / "d", workspace / "d.real")
    os.symlink(secret_sibling, workspace / "d")  # swapped after the check
    with (
        pytest.raises(ConfinementError, match="became a link"),
        nofollow.open_directory(target.root, target.parts[:-1], field="path", raw="d/key.txt"),
    ):
        pass
    root = nofollow.CheckedDirectory(workspace.resolve(), ".")
    os.symlink(secret_sibling / "key.txt", workspace / "f.txt")
    with pytest.raises(OSError, match="link"):
        root.open("f.txt", os.O_RDONLY)


@pytest.mark.usefixtures("without_dir_fd")
def test_fallback_race_reads_never_see_outside(workspace: Path, secret_sibling: Path) -> None:
    (secret_sibling / "f.txt").write_text("TOP SECRET\n")
    with swapping(workspace, secret_sibling):
        for _ in race_rounds():
            for _ in range(10):
                try:
                    assert confined_read(workspace, "d/f.txt").content == INSIDE
                except (ConfinementError, NotFoundError) as err:
                    assert "TOP SECRET" not in err.message


@pytest.mark.usefixtures("without_dir_fd")
def test_fallback_race_writes_never_land_outside(workspace: Path, secret_sibling: Path) -> None:
    with swapping(workspace, secret_sibling):
        for i in race_rounds():
            for j in range(5):
                with contextlib.suppress(ConfinementError, NotFoundError):
                    confined_write(workspace, f"d/w{i}-{j}.txt", "planted\n")
    assert unchanged(secret_sibling, {"key.txt": "TOP SECRET\n"})
