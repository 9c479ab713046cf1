"""engine.safety.commands: splitting, the allowlist, scrubbed environment, run_argv."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from engine.errors import CommandFailed, InputError, PolicyError, ToolFailure
from engine.safety.commands import (
    CommandResult,
    allow_command,
    find_program,
    run_argv,
    scrubbed_env,
    split_command,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")

SPAWN_GRANDCHILD = """
import subprocess, sys, time
from pathlib import Path
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
Path(sys.argv[1]).write_text(str(child.pid))
print("spawned", flush=True)
if sys.argv[2] == "stay":
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for a reaper counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


async def wait_until_dead(pid: int, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


# --- split_command --------------------------------------------------------------------------


def test_split_string_and_list() -> None:
    assert split_command("git status --short") == ["git", "status", "--short"]
    assert split_command("git log -n 3 'HEAD~1'") == ["git", "log", "-n", "3", "HEAD~1"]
    assert split_command(["git", "commit", "-m", "a message"]) == [
        "git",
        "commit",
        "-m",
        "a message",
    ]


@pytest.mark.parametrize(
    ("command", "error", "words"),
    [
        ("git status; id", PolicyError, "';' is not allowed"),
        ("git status | id", PolicyError, "'|'"),
        ("echo $(id)", PolicyError, "'$'"),
        ("git status\nid", PolicyError, "newline"),
        ("git status\uff1bid", PolicyError, "U+FF1B"),
        ("~/x", PolicyError, "'~'"),
        ("", InputError, "must not be empty"),
        ("'unterminated", InputError, "cannot be split"),
        ("x" * 5000, InputError, "over the 4096"),
    ],
)
def test_split_refusals_name_field_and_rule(
    command: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as refused:
        split_command(command, field="cmd")
    assert str(refused.value).startswith("cmd: ")
    assert words in str(refused.value)


def test_tilde_inside_an_argument_is_fine() -> None:
    assert split_command("git log HEAD~2") == ["git", "log", "HEAD~2"]


def test_list_elements_are_checked_too() -> None:
    with pytest.raises(PolicyError):
        split_command(["git", "status", "a;b"])
    with pytest.raises(InputError):
        split_command(["git", 3])  # type: ignore[list-item]


# --- allow_command ------------------------------------------------------------------------

ALLOW = ["git status", "git diff", "python -m pytest", "pip --version", "make test"]


def match_allowlist(argv: list[str], allowlist: list[str], workspace: Path) -> str:
    return allow_command(argv, allowlist, workspace=workspace).entry


@pytest.mark.parametrize(
    ("argv", "entry"),
    [
        (["git", "status"], "git status"),
        (["git", "status", "--short"], "git status"),
        (["python", "-m", "pytest", "-q", "tests"], "python -m pytest"),
        (["pip", "--version"], "pip --version"),
        (["make", "test"], "make test"),
    ],
)
def test_allowlist_prefix_matches(tmp_path: Path, argv: list[str], entry: str) -> None:
    (tmp_path / "tests").mkdir()
    assert match_allowlist(argv, ALLOW, tmp_path) == entry


@pytest.mark.parametrize(
    "argv",
    [
        ["gitk"],
        ["git", "statusx"],
        ["git", "-c", "x=y", "status"],
        ["git"],
        ["python", "-c", "import os"],
        ["python", "-m", "pip", "install", "x"],
        ["python", "-m", "pytestx"],
        ["python", "-mpytest"],
        ["pip", "--version2"],
        ["/usr/bin/git", "status"],
        ["env", "git", "status"],
        ["make", "testx"],
    ],
)
def test_allowlist_misses(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(PolicyError) as refused:
        match_allowlist(argv, ALLOW, tmp_path)
    assert "is not in the allowlist" in str(refused.value)
    assert str(refused.value).startswith("command: ")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["git", "diff", "--output=/tmp/x"], "'--output' is not one 'git diff' may take"),
        (["git", "diff", "--output", "x"], "it writes a file"),
        (["git", "diff", "--ext-diff"], "external diff program"),
        (["git", "diff", "--no-index", "/etc/passwd", "/dev/null"], "outside the repository"),
        (["git", "status", "--textconv"], "conversion programs"),
        (["git", "diff", "--no-ind", "/etc/passwd", "/dev/null"], "abbreviations are refused"),
        (["git", "diff", "--outp=x"], "abbreviations are refused"),
        (["git", "diff", "-Oless"], "'-Oless' is not one"),
    ],
)
def test_git_options_that_write_or_run_programs_are_refused(
    tmp_path: Path, argv: list[str], words: str
) -> None:
    with pytest.raises(PolicyError, match="only known read-only options") as refused:
        match_allowlist(argv, ALLOW, tmp_path)
    assert words in str(refused.value)


def test_safe_git_options_still_pass(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    argv = ["git", "diff", "--text", "--no-ext-diff", "--no-textconv", "--stat", "--", "a.txt"]
    allowed = allow_command(argv, ALLOW, workspace=tmp_path)
    assert allowed.entry == "git diff"
    # The spec's own options come right after the subcommand: no driver, no conversion.
    assert allowed.argv == ["git", "diff", "--no-ext-diff", "--no-textconv", *argv[2:]]


def test_an_entry_without_rules_admits_exactly_its_words(tmp_path: Path) -> None:
    assert allow_command(["make", "test"], ALLOW, workspace=tmp_path).argv == ["make", "test"]
    with pytest.raises(PolicyError, match="admits exactly that command") as refused:
        allow_command(["make", "test", "--eval=x"], ALLOW, workspace=tmp_path)
    assert "'--eval=x'" in str(refused.value)
    # An operator who wants arguments writes them in the entry.
    wider = ["make test --keep-going"]
    assert allow_command(["make", "test", "--keep-going"], wider, workspace=tmp_path).argv


def test_empty_allowlist_allows_nothing(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="allowed commands: nothing"):
        match_allowlist(["git", "status"], [], tmp_path)


# --- scrubbed_env ---------------------------------------------------------------------------


def test_scrubbed_env_keeps_basics_and_drops_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTION_TOKEN", "sekrit-123")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = scrubbed_env({"EXTRA": "1"})
    assert env["PATH"] == "/usr/bin:/bin"
    assert env["LC_ALL"] == "C.UTF-8"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["EXTRA"] == "1"
    for name in ("EXECUTION_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        assert name not in env
    assert "sekrit-123" not in env.values()


def test_scrubbed_path_keeps_only_absolute_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join([".", "/usr/bin", "", "bin", "/bin"]))
    assert scrubbed_env()["PATH"] == os.pathsep.join(["/usr/bin", "/bin"])


@posix_only
def test_find_program_searches_absolute_entries_only(tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    (here / "tool").write_text("#!/bin/sh\n")
    (here / "tool").chmod(0o755)
    (here / "plain").write_text("not executable")
    assert find_program("tool", os.pathsep.join([".", str(here)])) == str(here / "tool")
    assert find_program("plain", str(here)) is None
    assert find_program("tool", ".") is None
    assert find_program("./tool", str(here)) is None  # a named file is the operator's choice
    assert find_program("no-such-program-xyz", str(here)) is None


@posix_only
def test_a_program_in_the_workspace_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "run.sh").write_text("#!/bin/sh\n")
    (ws / "run.sh").chmod(0o755)
    outside = tmp_path / "bin"
    outside.mkdir()
    (outside / "tool").symlink_to(ws / "run.sh")  # a link from outside into the workspace
    allow = ["./run.sh", str(ws / "run.sh"), str(outside / "tool"), sys.executable]
    for argv in (["./run.sh"], [str(ws / "run.sh")], [str(outside / "tool")]):
        with pytest.raises(PolicyError, match="lies in the workspace"):
            allow_command(argv, allow, workspace=ws)
    assert allow_command([sys.executable], allow, workspace=ws).argv == [sys.executable]


# --- run_argv -------------------------------------------------------------------------------


async def test_run_argv_returns_output_and_code(tmp_path: Path) -> None:
    result = await run_argv(
        [
            sys.executable,
            "-c",
            "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
        ],
        cwd=tmp_path,
        timeout_sec=20,
    )
    assert isinstance(result, CommandResult)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.timed_out and not result.truncated
    assert result.to_dict()["argv"][0] == sys.executable


async def test_run_argv_caps_output_without_blocking_the_child(tmp_path: Path) -> None:
    script = "import sys; sys.stdout.write('x' * 5_000_000); sys.stderr.write('é' * 10)"
    result = await run_argv(
        [sys.executable, "-c", script], cwd=tmp_path, timeout_sec=20, output_cap=1000
    )
    assert result.returncode == 0 and not result.timed_out
    assert result.truncated
    assert result.stdout == "x" * 1000
    assert result.stderr == "é" * 10


async def test_run_argv_decodes_invalid_utf8_with_replacement(tmp_path: Path) -> None:
    script = "import sys; sys.stdout.buffer.write(b'ok\\xff')"
    result = await run_argv([sys.executable, "-c", script], cwd=tmp_path, timeout_sec=20)
    assert result.stdout == "ok\ufffd"


async def test_missing_program_is_a_tool_failure(tmp_path: Path) -> None:
    with pytest.raises(ToolFailure, match="program 'no-such-program-xyz' not found"):
        await run_argv(["no-such-program-xyz"], cwd=tmp_path, timeout_sec=5)


async def test_missing_cwd_is_named(tmp_path: Path) -> None:
    with pytest.raises(ToolFailure, match=r"cwd: .* does not exist"):
        await run_argv(["git", "--version"], cwd=tmp_path / "gone", timeout_sec=5)


@posix_only
@pytest.mark.parametrize("mode", ["stay", "exit"])
async def test_timeout_kills_the_whole_tree(tmp_path: Path, mode: str) -> None:
    """`stay`: the child sleeps. `exit`: the child exits at once but its grandchild keeps the
    pipes open — neither may hang, and the grandchild must die either way."""
    (tmp_path / "spawn.py").write_text(SPAWN_GRANDCHILD)
    started = time.monotonic()
    result = await run_argv(
        [sys.executable, "spawn.py", "gc.pid", mode], cwd=tmp_path, timeout_sec=1.5
    )
    assert time.monotonic() - started < 20  # did not hang
    assert result.timed_out
    assert result.stdout == "spawned\n"
    grandchild = int((tmp_path / "gc.pid").read_text())
    assert await wait_until_dead(grandchild)


@posix_only
async def test_cancelling_the_caller_kills_the_tree(tmp_path: Path) -> None:
    (tmp_path / "spawn.py").write_text(SPAWN_GRANDCHILD)
    task = asyncio.create_task(
        run_argv([sys.executable, "spawn.py", "gc.pid", "stay"], cwd=tmp_path, timeout_sec=60)
    )
    pid_file = tmp_path / "gc.pid"
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_until_dead(int(pid_file.read_text()))


def test_command_failed_carries_the_result() -> None:
    result = CommandResult(["x"], None, "", "", True, False, 1.0).to_dict()
    failure = CommandFailed("command: 'x' timed out", result)
    assert isinstance(failure, ToolFailure)
    assert failure.result is result and failure.timed_out
