"""A real full disk (docs/reliability.md): the database on a small tmpfs filled to the last byte. A
run whose start cannot be recorded executes nothing; freeing space is enough to go on."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine, StorageError
from tests.conftest import make_settings

pytestmark = [
    pytest.mark.skipif(
        sys.platform != "linux" or os.geteuid() != 0, reason="mounting a tmpfs needs root on Linux"
    ),
    pytest.mark.no_postgres,  # a full disk under the SQLite database file
]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs as root: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Write until the file system refuses another byte."""
    with path.open("wb", buffering=0) as handle:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * size)


async def test_a_run_on_a_full_disk_executes_nothing_and_recovers(
    small_disk: Path, workspace: Path
) -> None:
    settings = make_settings(workspace, small_disk / "daena.db")
    junk = small_disk / "junk"
    async with Engine.open(settings) as eng:
        await eng.update_config(
            {"approval_mode": "auto", "tool_enabled": {"filesystem_write": True}}
        )
        before = await eng.audit.count()
        fill(junk)
        refused = False
        for i in range(2000):  # the WAL may still have room: write until SQLite says full
            try:
                result = await eng.run(
                    "filesystem_write", {"path": f"out-{i}.txt", "content": "x\n"}
                )
            except StorageError as err:
                assert "full" in err.message or "nothing was executed" in err.message, err
                refused = True
                failed_at = i
                break
            assert result.ok, result
        assert refused, "the disk never filled"
        assert not (workspace / f"out-{failed_at}.txt").exists()
        junk.unlink()
        result = await eng.run("filesystem_write", {"path": "after.txt", "content": "x\n"})
        assert result.ok, result
        assert (await eng.audit.verify()).ok
        assert await eng.db.integrity_problems() == []
        assert await eng.audit.count() > before
