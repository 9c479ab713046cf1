"""Issue 15: every start-up problem is one plain line on stderr, exit code 2 and no
traceback, from every entry point: the CLI (`daena tools`), the console (`daena`), the
console's own script (`daena-tui`) and, for settings, the node (`daena-node`). The real
entry points run as subprocesses; the console on Textual's headless driver."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
HEADLESS = "textual.drivers.headless_driver:HeadlessDriver"


def entry(name: str, module: str) -> list[str]:
    script = BIN / name
    return [str(script)] if script.is_file() else [sys.executable, "-m", module]


CLI = [*entry("daena", "daena_tui"), "tools"]
CONSOLE = entry("daena", "daena_tui")
TUI = entry("daena-tui", "daena_tui.console.app")
NODE = entry("daena-node", "node_server")


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DAENA_", "EXECUTION_"))}
    return subprocess.run(
        argv,
        cwd=cwd,
        env={**clean, "TEXTUAL_DRIVER": HEADLESS, "NODE_PORT": "0", **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def one_line(proc: subprocess.CompletedProcess[str], needle: str) -> str:
    assert "Traceback" not in proc.stderr and "Event loop is closed" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0], lines[0]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    return lines[0]


ENV_FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "utf16_bom": (
        lambda p: p.write_bytes("DAENA_OPERATOR=x\n".encode("utf-16")),
        "is saved as UTF-16 LE (byte-order mark); save it as UTF-8",
    ),
    "utf16_no_bom": (
        lambda p: p.write_bytes("DAENA_OPERATOR=x\n".encode("utf-16-le")),
        "UTF-16 or UTF-32 (NUL bytes, no byte-order mark)",
    ),
    "latin1": (
        lambda p: p.write_bytes("DAENA_OPERATOR=café\n".encode("latin-1")),
        "is not UTF-8 (byte 0xe9 at offset 18)",
    ),
}


@pytest.mark.parametrize("kind", sorted(ENV_FILES))
def test_a_dotenv_that_is_not_utf8_names_the_file(kind: str, tmp_path: Path) -> None:
    make, needle = ENV_FILES[kind]
    work = tmp_path / "ws"
    work.mkdir()
    make(work / ".env")
    env = {"DAENA_DB_PATH": str(tmp_path / "d.db")}
    seen = {}
    for name, argv in {"cli": CLI, "console": CONSOLE, "tui": TUI, "node": NODE}.items():
        line = one_line(run(argv, work, env), needle)
        assert str(work / ".env") in line
        seen[name] = line.removeprefix("daena-node: ").removeprefix("daena: ")
    assert len(set(seen.values())) == 1, seen  # the same words from every entry point


def test_a_utf8_bom_dotenv_is_read(tmp_path: Path) -> None:
    """Notepad's "UTF-8 with BOM": the first variable is not renamed to '\\ufeffNAME'."""
    work = tmp_path / "ws"
    work.mkdir()
    (work / ".env").write_bytes("DAENA_OPERATOR=bom-op\n".encode("utf-8-sig"))
    proc = run(
        [*entry("daena", "daena_tui"), "doctor"], work, {"DAENA_DB_PATH": str(tmp_path / "d.db")}
    )
    assert proc.returncode == 0, proc.stderr
    assert any(
        line.split()[:2] == ["DAENA_OPERATOR", "bom-op"] for line in proc.stdout.splitlines()
    )


TOML: dict[str, tuple[Callable[[Path], None], str]] = {
    "utf16": (
        lambda p: p.write_bytes('DAENA_OPERATOR = "x"\n'.encode("utf-16")),
        "is saved as UTF-16 LE (byte-order mark)",
    ),
    "directory": (lambda p: p.mkdir(), "cannot read"),
    "missing": (lambda p: None, "does not exist"),
    "bad_toml": (lambda p: p.write_text("= broken", "utf-8"), "is not valid TOML"),
}


@pytest.mark.parametrize("kind", sorted(TOML))
def test_an_unreadable_settings_file(kind: str, tmp_path: Path) -> None:
    make, needle = TOML[kind]
    config = tmp_path / "daena.toml"
    make(config)
    env = {"DAENA_DB_PATH": str(tmp_path / "d.db"), "DAENA_CONFIG_FILE": str(config)}
    lines = {one_line(run(argv, tmp_path, env), needle) for argv in (CLI, CONSOLE, TUI)}
    assert len(lines) == 1 and "DAENA_CONFIG_FILE" in next(iter(lines))


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """A directory nobody may create files in: mode 555, or (root ignores modes) the
    immutable attribute."""
    directory.mkdir()
    if os.geteuid() == 0:
        if (
            shutil.which("chattr") is None
            or subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode
        ):
            pytest.skip("root without chattr +i: no read-only directory to test with")
    else:
        directory.chmod(0o555)
    try:
        with contextlib.suppress(OSError):
            (directory / "probe").touch()
            pytest.skip("this file system lets the directory be written")
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(directory)], capture_output=True)
        else:
            directory.chmod(0o755)


def test_a_database_in_a_read_only_directory_20_runs(tmp_path: Path) -> None:
    """The aiosqlite worker of the failed connect used to print an 'Event loop is closed'
    thread traceback after the one line in most runs; and the CLI exited 1, the console 2."""
    with read_only(tmp_path / "ro"):
        env = {"DAENA_DB_PATH": str(tmp_path / "ro" / "d.db")}
        lines = {one_line(run(CLI, tmp_path, env), "cannot open database") for _ in range(20)}
        lines |= {
            one_line(run(argv, tmp_path, env), "cannot open database") for argv in (CONSOLE, TUI)
        }
        missing = {"DAENA_DB_PATH": str(tmp_path / "ro" / "sub" / "d.db")}
        for argv in (CLI, CONSOLE):
            one_line(run(argv, tmp_path, missing), "DAENA_DB_PATH")
    assert len(lines) == 1 and "DAENA_DB_PATH" in next(iter(lines))


@pytest.mark.parametrize("kind", ["corrupt", "under_a_file"])
def test_a_corrupt_or_impossible_database(kind: str, tmp_path: Path) -> None:
    if kind == "corrupt":
        db = tmp_path / "d.db"
        db.write_bytes(b"not a database" * 1000)
        needle = "is not usable"
    else:
        (tmp_path / "plain").write_text("x")
        db = tmp_path / "plain" / "d.db"
        needle = "cannot open database"
    env = {"DAENA_DB_PATH": str(db)}
    lines = {one_line(run(argv, tmp_path, env), needle) for argv in (CLI, CONSOLE, TUI)}
    assert len(lines) == 1
