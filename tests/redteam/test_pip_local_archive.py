"""Red team, promise 1: an approved `pip download NAME` never builds a local archive.

pip takes a requirement whose name ends like an archive (`.tar`, `.zip`, `.tar.gz`, ...) and
that exists as a file in the current directory for that local file, not a package name,
and prepares an sdist by running its build backend, `--only-binary=:all:` or not. An agent
can write such an archive as plain text (an uncompressed tar needs no NUL byte: pax
headers name the files, fields are space-padded), so "write a text file" followed by
"pip download evil==1.0.tar" ran the agent's code through two harmless-looking approvals.
Real engine, real pip, real file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine import Engine
from engine.safety.commands import pip_env, scrubbed_env
from tests.conftest import make_repo, make_settings

ARCHIVE = "evil==1.0.tar"
PIP_DOWNLOAD = f"{sys.executable} -m pip download"


def _field(value: str, size: int) -> bytes:
    data = value.encode("ascii")
    return data + b" " * (size - len(data))


def _header(name: str, size: int, typeflag: str) -> bytes:
    sizes = (100, 8, 8, 8, 12, 12)
    values = (name, "0000644", "0", "0", f"{size:o}", "0")
    block = bytearray(b"".join(_field(v, s) for v, s in zip(values, sizes, strict=True)))
    block += b" " * 8 + typeflag.encode() + b" " * (512 - 157)
    block[148:156] = _field(f"{sum(block):06o}", 8)
    return bytes(block)


def _pad(data: bytes) -> bytes:
    return data + b"\n" * (-len(data) % 512)


def ascii_tar(files: dict[str, str]) -> str:
    """An uncompressed tar archive of `files` that is printable ASCII text (no NUL)."""
    blocks: list[bytes] = []
    for path, text in files.items():
        record = f" path={path}\n"
        pax = f"{len(record) + len(str(len(record) + 3))}{record}".encode()
        body = text.encode("ascii")
        blocks += [_header("pax", len(pax), "x"), _pad(pax), _header("f", len(body), "0")]
        blocks.append(_pad(body))
    blob = b"".join(blocks)
    assert b"\x00" not in blob
    return blob.decode("ascii")


def evil_sdist(marker: Path) -> str:
    return ascii_tar(
        {
            "evil-1.0/pyproject.toml": (
                '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
            ),
            "evil-1.0/backend.py": (
                f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
            ),
        }
    )


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    make_repo(ws)
    return ws


@pytest.fixture
async def eng(lab: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    settings = make_settings(
        lab, tmp_path / "state" / "daena.db", SHELL_ALLOWLIST=json.dumps([PIP_DOWNLOAD])
    )
    async with Engine.open(settings) as engine:
        for tool in ("filesystem_write", "shell_exec"):
            await engine.set_tool_enabled(tool, True)
        yield engine


def test_control_pip_builds_the_text_archive(lab: Path, tmp_path: Path) -> None:
    """The sentinel is real: the archive is text, and pip runs its backend when given it."""
    marker = tmp_path / "control-ran"
    (lab / ARCHIVE).write_text(evil_sdist(marker))
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-index", ARCHIVE],
        cwd=lab,
        env={**scrubbed_env(), **pip_env()},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert marker.exists()


async def test_an_approved_pip_download_never_builds_a_workspace_archive(
    eng: Engine, lab: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "agent-ran"
    agent = eng.as_agent("mallory")
    wrote = await agent.run("filesystem_write", {"path": ARCHIVE, "content": evil_sdist(marker)})
    assert wrote.approval_request_id is not None
    assert (await eng.approve(wrote.approval_request_id, operator="alice")).status == "ok"
    assert (lab / ARCHIVE).is_file()
    for name in (ARCHIVE, "evil.tar", "evil.TAR.GZ", "evil==1.zip", "evil.tgz", "evil==2.whl"):
        ran = await agent.run("shell_exec", {"command": f"{PIP_DOWNLOAD} --no-deps {name}"})
        if ran.approval_request_id is not None:  # before the fix: it looked harmless
            await eng.approve(ran.approval_request_id, operator="alice")
        assert not marker.exists(), "the agent's build backend ran"
        assert ran.status == "refused", (name, ran.status, ran.error)
        assert ran.error is not None and "archive" in ran.error
        assert ran.approval_request_id is None
    # the package-name forms still pass the check (the inbox gets them)
    ok = await agent.run("shell_exec", {"command": f"{PIP_DOWNLOAD} --no-deps zope.interface==5.0"})
    assert ok.status == "pending_approval", ok.error
    assert not marker.exists()
    assert os.listdir(tmp_path / "state")  # the engine ran: the database is there
