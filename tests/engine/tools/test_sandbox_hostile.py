"""`sandbox_worker_run` against a hostile agent: only wheels, only the operator's index.

A real package index on loopback (PEP 503 pages served by `http.server`) is the operator's
configured index (`PIP_INDEX_URL` in the console's environment). It holds a wheel and an
sdist whose `setup.py` writes a marker file the moment pip runs it; a second server plays the
agent's index. Through the real engine (approval mode `auto`, so an admitted command really
runs) the wheel downloads from the operator's index, the sdist is never built, and every way
of naming another index or building from source is refused before pip starts, audited as
refused, with no request reaching the agent's server.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine import Engine
from engine.safety.commands import scrubbed_env
from tests.conftest import make_repo, make_settings


@dataclass
class Index:
    url: str
    hits: list[str] = field(default_factory=list)


def _package_page(root: Path, name: str, filename: str) -> None:
    page = root / "simple" / name
    page.mkdir(parents=True)
    (page / "index.html").write_text(
        f'<!doctype html><html><body><a href="/files/{filename}">{filename}</a></body></html>'
    )


def build_index(root: Path, marker: Path) -> None:
    """`wheelok` as a wheel, `sdistonly` as an sdist whose setup.py leaves `marker`."""
    files = root / "files"
    files.mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as whl:
        whl.writestr("wheelok/__init__.py", "")
        info = "wheelok-1.0.dist-info/"
        whl.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: wheelok\nVersion: 1.0\n")
        whl.writestr(
            info + "WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        whl.writestr(info + "RECORD", "")
    (files / "wheelok-1.0-py3-none-any.whl").write_bytes(buf.getvalue())
    setup = (
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('the build backend ran')\n"
        "from setuptools import setup\nsetup(name='sdistonly', version='1.0')\n"
    )
    with tarfile.open(files / "sdistonly-1.0.tar.gz", "w:gz") as sdist:
        for name, text in {
            "sdistonly-1.0/setup.py": setup,
            "sdistonly-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: sdistonly\nVersion: 1.0\n",
        }.items():
            data = text.encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            sdist.addfile(member, io.BytesIO(data))
    _package_page(root, "wheelok", "wheelok-1.0-py3-none-any.whl")
    _package_page(root, "sdistonly", "sdistonly-1.0.tar.gz")


@pytest.fixture
def serve_index() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(root: Path) -> Index:
        index = Index(url="")

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                index.hits.append(self.path)

        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        index.url = f"http://127.0.0.1:{server.server_address[1]}/simple"
        return index

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Lab:
    ws: Path
    marker: Path
    good: Index
    evil: Index


@pytest.fixture
def lab(tmp_path: Path, serve_index: Any, monkeypatch: pytest.MonkeyPatch) -> Lab:
    marker = tmp_path / "built-marker"
    build_index(tmp_path / "good", marker)
    build_index(tmp_path / "evil", marker)
    good, evil = serve_index(tmp_path / "good"), serve_index(tmp_path / "evil")
    # The operator's configuration: the console's own environment names the index.
    monkeypatch.setenv("PIP_INDEX_URL", good.url)
    # A user-level pip.conf naming another index (and asking for source builds) must not
    # steer the sandbox either: PIP_CONFIG_FILE is the null device.
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        f"[global]\nindex-url = {evil.url}\nno-binary = :all:\n"
    )
    monkeypatch.setenv("HOME", str(home))
    ws = tmp_path / "ws"
    make_repo(ws).free()
    (ws / "pip.conf").write_text(f"[global]\nindex-url = {evil.url}\n")
    return Lab(ws=ws, marker=marker, good=good, evil=evil)


@pytest.fixture
async def eng(lab: Lab, tmp_path: Path) -> AsyncIterator[Engine]:
    settings = make_settings(lab.ws, tmp_path / "state" / "daena.db")
    async with Engine.open(settings) as engine:
        await engine.update_config({"approval_mode": "auto"})
        await engine.set_tool_enabled("sandbox_worker_run", True)
        yield engine


def test_control_pip_builds_the_sdist_when_allowed_to(lab: Lab, tmp_path: Path) -> None:
    """The sentinel is real: pip given leave to build from source runs setup.py."""
    out = tmp_path / "control"
    out.mkdir()
    source_build = ["--no-build-isolation", "--no-binary=:all:", "--no-deps", "-d", str(out)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", *source_build, "-i", lab.good.url, "sdistonly"],
        env=scrubbed_env({"PIP_CONFIG_FILE": "/dev/null"}),
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert lab.marker.exists()


def test_control_a_users_pip_conf_would_steer_pip(lab: Lab, tmp_path: Path) -> None:
    """The sentinel is real: without PIP_CONFIG_FILE=/dev/null, ~/.config/pip/pip.conf picks
    the index (here the agent's), whatever the console's own environment says."""
    out = tmp_path / "control"
    out.mkdir()
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(out), "wheelok"],
        env=scrubbed_env(),
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert any("/wheelok" in hit for hit in lab.evil.hits)


async def test_a_wheel_downloads_from_the_operators_index(lab: Lab, eng: Engine) -> None:
    result = await eng.run("sandbox_worker_run", {"command": "pip download --no-deps wheelok"})
    assert result.status == "ok", result.error
    assert result.result is not None
    assert result.result["files"] == ["wheelok-1.0-py3-none-any.whl"]
    assert "--only-binary=:all:" in result.result["argv"]
    assert any("/wheelok" in hit for hit in lab.good.hits)
    assert lab.evil.hits == []  # neither ~/.config/pip/pip.conf nor the workspace's counted


async def test_an_sdist_is_never_built(lab: Lab, eng: Engine) -> None:
    for command in ("pip download sdistonly", "pip download --no-deps sdistonly==1.0"):
        result = await eng.run("sandbox_worker_run", {"command": command})
        assert result.status == "error", (command, result.status)
        assert result.error is not None and "exited with code" in result.error
        assert result.result is not None and result.result["files"] == []
    assert any("/sdistonly" in hit for hit in lab.good.hits)  # it looked, found no wheel
    assert not any(hit.endswith(".tar.gz") for hit in lab.good.hits)  # never fetched it
    assert not lab.marker.exists()
    assert lab.evil.hits == []


HOSTILE = [
    ("pip download -i {evil} wheelok", "'-i'"),
    ("pip download -i{evil} wheelok", "'-i"),
    ("pip download --index-url={evil} wheelok", "'--index-url'"),
    ("pip download --index-url {evil} wheelok", "'--index-url'"),
    ("pip download --index-u={evil} wheelok", "abbreviations"),
    ("pip download --extra-index-url={evil} wheelok", "package index"),
    ("pip download --extra-index={evil} wheelok", "abbreviations"),
    ("pip download -f {evil}/../files wheelok", "'-f'"),
    ("pip download --find-links={evil} wheelok", "where packages come from"),
    ("pip download --trusted-host=127.0.0.1 wheelok", "TLS"),
    ("pip download --no-binary=:all: sdistonly", "builds packages from source"),
    ("pip download --no-binary :all: sdistonly", "builds packages from source"),
    ("pip download --no-bin=:all: sdistonly", "abbreviations"),
    ("pip download --only-binary=:none: sdistonly", "not one of :all:"),
    ("pip download --only-binary=sdistonly sdistonly", "not one of :all:"),
    ("pip download --config-settings=x=y sdistonly", "build backend"),
    ("pip download -C x=y sdistonly", "build backend"),
    ("pip download -e . ", "local project"),
    ("pip download -r requirements.txt", "requirements file"),
    ("pip download --python=/bin/sh wheelok", "another interpreter"),
    ("pip download --pyth=/bin/sh wheelok", "abbreviations"),
    ("pip download --isolated wheelok", "configuration"),
    ("pip download --cache-dir=/tmp/elsewhere wheelok", "anywhere"),
    ("pip download -d /tmp/elsewhere wheelok", "anywhere"),
    ("pip download --dest=/tmp/elsewhere wheelok", "anywhere"),
    ("pip download --proxy=http://127.0.0.1:9 wheelok", "network settings"),
    ("pip download wheelok@{evil}/../files/wheelok-1.0-py3-none-any.whl", "package name"),
    ("pip download {evil}/../files/wheelok-1.0-py3-none-any.whl", "package name"),
    ("pip download ./wheelok", "package name"),
    ("pip download -vi {evil} wheelok", "'-vi'"),
    ("pip list --path=/etc", "other directories"),
    ("pip show --files -i {evil} pip", "'-i'"),
    ("pip --version --python=/bin/sh", "admits exactly that command"),
    ("python -m pip download wheelok", "not in the allowlist"),
    ("python -m pip list --log=/tmp/elsewhere.log", "writes a file"),
]


@pytest.mark.parametrize(("command", "needle"), HOSTILE, ids=[c for c, _ in HOSTILE])
async def test_hostile_pip_options_are_refused_before_pip_starts(
    lab: Lab, eng: Engine, command: str, needle: str
) -> None:
    text = command.format(evil=lab.evil.url)
    result = await eng.run("sandbox_worker_run", {"command": text})
    assert result.status == "refused", (result.status, result.error)
    assert result.error is not None and result.error.startswith("command: ")
    assert needle in result.error and "\n" not in result.error
    record = await eng.audit.get(result.audit_id or 0)
    assert record is not None and record.status == "refused"
    assert lab.evil.hits == [] and lab.good.hits == []
    assert not lab.marker.exists()
    assert not Path("/tmp/elsewhere").exists() and not Path("/tmp/elsewhere.log").exists()
