"""Promises 1 and 2 against a hostile agent: allowlisted commands with hostile options.

Every entry is an argv an agent could send through `shell_exec` under an allowlist that
admits its command (`git diff`, `python -m pytest`, `pip list` ...). Each one does real damage
when the program gets it unchecked, which the control test proves by running it as is: it
writes a file outside the workspace, reads one, or runs a program the agent chose. Through
the engine (real settings, real SQLite, approval mode `auto`, so an admitted command would
really run) and through the `daena` CLI, each is refused with a one-line message that names
the option or operand and the rule, nothing outside the workspace changes, no marker
appears, and the attempt is audited as refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from daena_tui.cli import main
from engine import Engine
from engine.safety.commands import scrubbed_env
from tests.conftest import make_repo, make_settings

PY = sys.executable
ALLOWLIST = [
    "git status",
    "git diff",
    "git log",
    f"{PY} -m pytest",
    f"{PY} -m pip list",
    f"{PY} -m pip show",
    f"{PY} -m pip --version",
]
SECRET = "TOP SECRET outside the workspace"


@dataclass(frozen=True)
class Lab:
    """A workspace (a real git repository) beside a directory the agent must not reach."""

    root: Path
    ws: Path
    out: Path
    db: Path

    def argv(self, words: list[str]) -> list[str]:
        return [w.format(ws=self.ws, out=self.out, py=PY) for w in words]

    def outside_state(self) -> dict[str, bytes]:
        """Every file outside the workspace and the database: path -> content."""
        state: dict[str, bytes] = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_relative_to(self.ws) or path.is_relative_to(self.db.parent):
                continue
            state[str(path)] = path.read_bytes() if path.is_file() else b"<dir>"
        return state


def make_lab(root: Path) -> Lab:
    ws = root / "ws"
    out = root / "outside"
    out.mkdir(parents=True)
    (out / "secret.txt").write_text(SECRET + "\n")
    make_repo(
        ws,
        {
            "README.md": "hello\n",
            "tests/test_ok.py": "def test_ok(tmp_path):\n    assert tmp_path.is_dir()\n",
            "sub/deep/keep.txt": "keep\n",
        },
    ).free()
    (ws / "link").symlink_to("sub/deep", target_is_directory=True)
    # A plugin the agent wrote into the workspace: importing it is running the agent's code.
    (ws / "evilplugin.py").write_text(
        f"from pathlib import Path\nPath({str(out / 'plugin-ran')!r}).write_text('pwned')\n"
    )
    (ws / "args.txt").write_text(f"--basetemp={out / 'bt-args'}\n")
    # argparse expands `@file` anywhere, even as an option's value: `-k @kargs.txt`.
    (ws / "kargs.txt").write_text(f"ok\n--basetemp={out / 'bt-k'}\n")
    (ws / ".env").write_text("EXECUTION_TOKEN=console-secret\n")
    # A program the agent names as "the interpreter" for pip's --python re-exec.
    script = out / "fake-python"
    script.write_text(f"#!/bin/sh\ntouch {out / 'python-ran'}\n")
    script.chmod(0o755)
    return Lab(root=root, ws=ws, out=out, db=root / "state" / "daena.db")


@dataclass(frozen=True)
class Attack:
    words: list[str]
    needle: str  # what the refusal must say
    creates: str = ""  # a file the unchecked command creates (relative to the lab root)
    prints: str = ""  # or text it prints that must never reach the agent


ATTACKS: dict[str, Attack] = {
    "git diff --no-index outside file": Attack(
        ["git", "diff", "--no-index", "{out}/secret.txt", "README.md"],
        "'--no-index'",
        prints=SECRET,
    ),
    "git diff implied no-index by an absolute outside path": Attack(
        ["git", "diff", "{out}/secret.txt", "README.md"], "outside the workspace", prints=SECRET
    ),
    "git diff implied no-index by ..": Attack(
        ["git", "diff", "../outside/secret.txt", "README.md"], "'..'", prints=SECRET
    ),
    # git decides "outside the repository" by text, the OS opens through the link: refused
    # so that the two readings never need to agree.
    "git diff .. through a link that resolves inside": Attack(
        ["git", "diff", "link/../../outside/secret.txt", "README.md"], "'..'"
    ),
    "git diff --binary of an outside file": Attack(
        ["git", "diff", "--binary", "{out}/secret.txt", "README.md"], "'--binary'", prints=SECRET
    ),
    "git diff --output": Attack(
        ["git", "diff", "--output={out}/diff.txt"], "it writes a file", creates="outside/diff.txt"
    ),
    "git diff --output abbreviated": Attack(
        ["git", "diff", "--outp={out}/diff.txt"], "abbreviations"
    ),
    "git status option abbreviated": Attack(["git", "status", "--shor"], "abbreviations"),
    "git log --output separate value": Attack(
        ["git", "log", "--output", "{out}/log.txt"], "'--output'", creates="outside/log.txt"
    ),
    "git log -p of the console's .env": Attack(
        ["git", "log", "-p", "--", ".env"], "console's own files"
    ),
    "git diff -O order file outside": Attack(["git", "diff", "-O{out}/secret.txt"], "'-O"),
    "git log %G format runs gpg": Attack(["git", "log", "--format=%GG"], "gpg"),
    "git diff rev:path blob": Attack(["git", "diff", "HEAD:README.md"], "':'"),
    "git diff --ext-diff": Attack(["git", "diff", "--ext-diff"], "external diff"),
    "git status --porcelain with a stuck junk value": Attack(
        ["git", "status", "--porcelain=/tmp/x"], "is not one of v1, v2"
    ),
    "pytest --basetemp outside": Attack(
        ["{py}", "-m", "pytest", "-q", "--basetemp={out}/bt", "tests"],
        "'--basetemp'",
        creates="outside/bt",
    ),
    "pytest --junitxml outside": Attack(
        ["{py}", "-m", "pytest", "-q", "--junitxml={out}/junit.xml", "tests"],
        "it writes a file",
        creates="outside/junit.xml",
    ),
    "pytest --debug file outside": Attack(
        ["{py}", "-m", "pytest", "-q", "--debug={out}/debug.log", "tests"],
        "'--debug'",
        creates="outside/debug.log",
    ),
    "pytest -o cache_dir outside": Attack(
        ["{py}", "-m", "pytest", "-q", "-o", "cache_dir={out}/cache", "tests"],
        "'-o'",
        creates="outside/cache",
    ),
    "pytest -p plugin": Attack(
        ["{py}", "-m", "pytest", "-q", "-p", "evilplugin", "tests"],
        "not one of no:cacheprovider",
        creates="outside/plugin-ran",
    ),
    "pytest -p plugin stuck": Attack(
        ["{py}", "-m", "pytest", "-q", "-pevilplugin", "tests"],
        "not one of no:cacheprovider",
        creates="outside/plugin-ran",
    ),
    "pytest -p hidden as the value of -k": Attack(
        ["{py}", "-m", "pytest", "-q", "-k", "-pevilplugin", "tests"], "must not start with '-'"
    ),
    "pytest @argsfile": Attack(
        ["{py}", "-m", "pytest", "-q", "@args.txt", "tests"], "'@'", creates="outside/bt-args"
    ),
    "pytest @argsfile as the value of -k": Attack(
        ["{py}", "-m", "pytest", "-q", "-k", "@kargs.txt", "tests"], "'@'", creates="outside/bt-k"
    ),
    "pytest --rootdir outside": Attack(
        ["{py}", "-m", "pytest", "--rootdir={out}"], "root directory"
    ),
    "pytest -c config outside": Attack(
        ["{py}", "-m", "pytest", "-c", "{out}/secret.txt"], "configuration file"
    ),
    "pytest test path outside": Attack(
        ["{py}", "-m", "pytest", "-q", "{out}"], "outside the workspace"
    ),
    "pytest node id with an outside path": Attack(
        ["{py}", "-m", "pytest", "-q", "../outside/test_x.py::test_x"], "'..'"
    ),
    "pip list --python": Attack(
        ["{py}", "-m", "pip", "list", "--python", "{out}/fake-python"], "another interpreter"
    ),
    "pip list --python abbreviated": Attack(
        ["{py}", "-m", "pip", "list", "--pyth={out}/fake-python"], "abbreviations"
    ),
    "pip --log outside": Attack(
        ["{py}", "-m", "pip", "list", "--log={out}/pip.log"],
        "it writes a file",
        creates="outside/pip.log",
    ),
    "pip --version with trailing --python": Attack(
        ["{py}", "-m", "pip", "--version", "--python={out}/fake-python"],
        "admits exactly that command",
        creates="outside/python-ran",
    ),
    "pip --version with trailing --pyth": Attack(
        ["{py}", "-m", "pip", "--version", "--pyth", "{out}/fake-python"],
        "admits exactly that command",
        creates="outside/python-ran",
    ),
    "pip list --path outside": Attack(
        ["{py}", "-m", "pip", "list", "--path", "{out}"], "other directories"
    ),
    "pip show of a path": Attack(["{py}", "-m", "pip", "show", "{out}"], "not a package name"),
}
CONTROLLED = {name: a for name, a in ATTACKS.items() if a.creates or a.prints}


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return make_lab(tmp_path)


@pytest.fixture
async def eng(lab: Lab) -> AsyncIterator[Engine]:
    settings = make_settings(lab.ws, lab.db, SHELL_ALLOWLIST=json.dumps(ALLOWLIST))
    async with Engine.open(settings) as engine:
        await engine.update_config({"approval_mode": "auto"})
        yield engine


@pytest.mark.parametrize("name", CONTROLLED)
def test_control_each_attack_does_damage_when_unchecked(lab: Lab, name: str) -> None:
    """The sentinel is real: the same argv given straight to the program does the damage."""
    attack = CONTROLLED[name]
    done = subprocess.run(
        lab.argv(attack.words),
        cwd=lab.ws,
        env=scrubbed_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if attack.creates:
        assert (lab.root / attack.creates).exists(), done.stderr[-2000:]
    if attack.prints:
        assert attack.prints in done.stdout, done.stderr[-2000:]


@pytest.mark.parametrize("name", ATTACKS)
async def test_attack_through_the_engine_is_refused_and_audited(
    lab: Lab, eng: Engine, name: str
) -> None:
    attack = ATTACKS[name]
    before = lab.outside_state()
    for command in (lab.argv(attack.words), " ".join(lab.argv(attack.words))):
        for dry_run in (True, False):
            result = await eng.run("shell_exec", {"command": command}, dry_run=dry_run)
            assert result.status == "refused", (result.status, result.error, result.result)
            assert result.error is not None and result.error.startswith("command: ")
            assert attack.needle in result.error
            assert "\n" not in result.error and "Traceback" not in result.error
            assert result.result is None
            record = await eng.audit.get(result.audit_id or 0)
            assert record is not None and record.status == "refused"
            assert record.tool == "shell_exec" and attack.needle in (record.error or "")
    assert lab.outside_state() == before
    if attack.creates:
        assert not (lab.root / attack.creates).exists()


async def test_safe_forms_of_the_same_commands_still_run(lab: Lab, eng: Engine) -> None:
    """The allow model keeps the operator's everyday commands working."""
    (lab.ws / "README.md").write_text("hello again\n")
    cases = {
        "git status --short": "M README.md",
        "git status -sb": "## main",
        "git diff --stat": "README.md",
        "git diff -U1 -- README.md": "+hello again",
        "git log --oneline -n 1": "initial",
        "git log -1 --format=%s": "initial",
        f"{PY} -m pytest -q -p no:cacheprovider -k ok tests/test_ok.py::test_ok": "1 passed",
        f"{PY} -m pip show pip": "Name: pip",
        f"{PY} -m pip --version": "pip ",
    }
    for command, expected in cases.items():
        result = await eng.run("shell_exec", {"command": command})
        assert result.status == "ok", (command, result.error)
        assert result.result is not None and expected in result.result["stdout"], command
    assert not (lab.ws / ".pytest_cache").exists()


def test_attack_through_the_cli_is_refused_and_audited(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELL_ALLOWLIST", json.dumps(ALLOWLIST))
    base = ["--db", str(lab.db), "--workspace", str(lab.ws), "--operator", "op@test"]
    before = lab.outside_state()
    names = ("git diff --output", "pytest --basetemp outside", "pip --version with trailing --pyth")
    for name in names:
        attack = ATTACKS[name]
        args = json.dumps({"command": lab.argv(attack.words)})
        code = main([*base, "run", "shell_exec", "--args", args])
        out, err = capsys.readouterr()
        assert code == 3, (out, err)
        assert attack.needle in out and "Traceback" not in out + err
    code = main([*base, "--json", "logs", "--limit", "100"])
    records = json.loads(capsys.readouterr().out)
    assert code == 0
    refused = [r for r in records if r["tool"] == "shell_exec" and r["status"] == "refused"]
    assert len(refused) == 3
    assert lab.outside_state() == before
    assert not any((lab.out / n).exists() for n in ("diff.txt", "bt", "python-ran"))


def test_the_lab_state_sees_outside_changes(lab: Lab) -> None:
    """The before/after comparison above can fail: a file written outside shows up."""
    before = lab.outside_state()
    (lab.out / "new.txt").write_text("x")
    assert lab.outside_state() != before
    assert os.path.exists(lab.out / "secret.txt")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX executable bits")
async def test_a_program_in_the_workspace_never_stands_in_for_the_allowlisted_one(
    lab: Lab, eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git` in the workspace and `.` (or an empty entry) on the operator's PATH: the
    program run is still the real git, never the agent's file."""
    fake = lab.ws / "git"
    fake.write_text(f"#!/bin/sh\ntouch {lab.out / 'fake-git-ran'}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([".", "", os.environ["PATH"]]))
    control = subprocess.run(
        ["git", "status"], cwd=lab.ws, env={"PATH": os.environ["PATH"]}, check=False
    )
    assert control.returncode == 0 and (lab.out / "fake-git-ran").exists()  # the sentinel
    (lab.out / "fake-git-ran").unlink()
    result = await eng.run("shell_exec", {"command": "git status --short"})
    assert result.status == "ok", result.error
    assert result.result is not None and "?? git" in result.result["stdout"]
    assert not (lab.out / "fake-git-ran").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX virtual environment layout")
async def test_a_pip_conf_in_a_workspace_venv_does_not_steer_pip(lab: Lab) -> None:
    """pip reads `<sys.prefix>/pip.conf`; for a virtual environment inside the workspace that
    is a file the agent can write, and it may set any option (here `log`, a file outside).
    Such a pip is refused outright (it lies in the workspace); and any pip shell_exec runs
    reads no configuration file (`PIP_CONFIG_FILE=/dev/null`)."""
    venv = lab.ws / ".venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "daena-test.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # our pip
    (venv / "pip.conf").write_text(f"[global]\nlog = {lab.out / 'pip-config.log'}\n")
    python = str(venv / "bin" / "python")
    control = subprocess.run(
        [python, "-m", "pip", "list"], cwd=lab.ws, env=scrubbed_env(), check=False, timeout=120
    )
    assert control.returncode == 0 and (lab.out / "pip-config.log").exists()  # the sentinel
    (lab.out / "pip-config.log").unlink()
    before = lab.outside_state()
    allowlist = json.dumps([f"{python} -m pip list", f"{python} -m pip --version"])
    settings = make_settings(lab.ws, lab.db, SHELL_ALLOWLIST=allowlist)
    async with Engine.open(settings) as engine:
        await engine.update_config({"approval_mode": "auto"})
        for command in ([python, "-m", "pip", "list"], [python, "-m", "pip", "--version"]):
            result = await engine.run("shell_exec", {"command": command})
            assert result.status == "refused", result.error
            assert result.error is not None and "lies in the workspace" in result.error
    assert not (lab.out / "pip-config.log").exists()
    assert lab.outside_state() == before


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX virtual environment layout")
async def test_a_program_from_a_workspace_venv_is_refused(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator works in an activated virtual environment that lives in the workspace.
    Its site-packages are files the agent can write, and a `.pth` there runs at start-up:
    `python` or `pip` found there is not the tool, it is the agent's code."""
    venv = lab.ws / ".venv"
    subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "daena-test.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    marker = lab.out / "pth-ran"
    (site / "agent.pth").write_text(f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n")
    monkeypatch.setenv("PATH", os.pathsep.join([str(venv / "bin"), os.environ["PATH"]]))
    control = subprocess.run(
        ["python", "-m", "pip", "--version"], cwd=lab.ws, env=scrubbed_env(), timeout=120
    )
    assert control.returncode == 0 and marker.exists()  # the sentinel
    marker.unlink()
    allowlist = json.dumps(["python -m pip list", "python -m pytest", "python --version"])
    settings = make_settings(lab.ws, lab.db, SHELL_ALLOWLIST=allowlist)
    async with Engine.open(settings) as engine:
        await engine.update_config({"approval_mode": "auto"})
        for command in ("python -m pip list", "python -m pytest -q", "python --version"):
            result = await engine.run("shell_exec", {"command": command})
            assert result.status == "refused", (command, result.status, result.error)
            assert result.error is not None and "lies in the workspace" in result.error
    assert not marker.exists()


async def test_a_tracked_env_never_shows_in_git_output(lab: Lab, eng: Engine) -> None:
    """The repository tracks the console's `.env` (committed by mistake): no git command
    the agent can get admitted shows its content, in the work tree or in history."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-f", ".env"], cwd=lab.ws, check=True)
    subprocess.run([*git, "commit", "-qm", "oops"], cwd=lab.ws, check=True)
    (lab.ws / ".env").write_text("EXECUTION_TOKEN=console-secret-2\n")
    (lab.ws / "README.md").write_text("hello again\n")
    control = subprocess.run(["git", "log", "-p"], cwd=lab.ws, capture_output=True, text=True)
    assert "console-secret" in control.stdout  # the sentinel
    for command in (
        "git diff",
        "git diff HEAD",
        "git diff HEAD~1 HEAD",
        "git diff --stat HEAD~1",
        "git log -p",
        "git log -p --all --name-status",
        "git log -p -- README.md .",
        "git status --short",
        "git status --porcelain=v2 --ignored",
    ):
        result = await eng.run("shell_exec", {"command": command})
        assert result.status == "ok", (command, result.error)
        assert result.result is not None
        assert "console-secret" not in result.result["stdout"], command
        assert ".env" not in result.result["stdout"], command
    readme = await eng.run("shell_exec", {"command": "git diff README.md"})
    assert readme.result is not None and "+hello again" in readme.result["stdout"]
