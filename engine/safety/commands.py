"""Commands without a shell (docs/security.md, promise 1), shared by `shell_exec`,
`sandbox_worker_run` and the node server's `safe_shell_exec`.

The original product prefix-matched a string and handed it to a shell, so `git status; id`
ran. Here a command is split into argv, every shell metacharacter is refused *before*
anything is spawned (even though no shell ever sees the argv, refusing keeps the rule easy to
state and audit), and the child runs with `create_subprocess_exec`, a scrubbed environment, a
timeout that kills the whole process group, and capped output.

The allowlist is an allow model, not a prefix plus a deny list (`allow_command`):

- an entry must be a whole-word argv prefix of the command (`git status` admits
  `git status --short`, never `git statusx`, `gitk` or `git -c x status`);
- when the entry names a command family the console knows (`git status|diff|log`,
  `python -m pytest`, `pip list|show|download`), every word after the entry must be an
  option, value or operand that family's spec allows (`engine.safety.command_specs`): exact
  option names, checked values, workspace-confined paths; anything else is refused naming the
  word and the rule;
- an entry with no spec (an operator's `make test`, `pip --version`) admits exactly its own
  words and nothing after them: an operator who wants arguments writes them in the entry
  (`make test --keep-going`).

git then runs with the hardened configuration of `engine.safety.git_hardening`
(`command_to_run`), which is also the argv a dry run reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import EngineError, InputError, PolicyError, ToolFailure
from engine.safety.command_rules import Reading, Where, check_arguments
from engine.safety.command_specs import family_of, is_pip
from engine.safety.git_hardening import is_git, prepare_git
from engine.safety.protected import ProtectedPaths

MAX_COMMAND_CHARS = 4096
DEFAULT_OUTPUT_CAP = 200_000
# Characters a shell would interpret: chaining, pipes, substitution, redirection, grouping,
# globbing, brace expansion and escapes. Quotes are allowed (shlex handles them).
_METACHARACTERS = {
    ";": "command chaining",
    "&": "background/chaining",
    "|": "pipes",
    "$": "variable/command substitution",
    "`": "command substitution",
    "<": "redirection",
    ">": "redirection",
    "(": "subshells",
    ")": "subshells",
    "*": "globs",
    "?": "globs",
    "[": "globs",
    "]": "globs",
    "{": "brace expansion",
    "}": "brace expansion",
    "\\": "backslash escapes",
}
# Variables a child may inherit. Everything else (tokens, API keys, cloud credentials) stays
# behind: the original "sandbox" passed the full environment and printed tokens.
_ENV_ALLOW = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "SYSTEMROOT",
        "SYSTEMDRIVE",
        "WINDIR",
        "PATHEXT",
        "USERPROFILE",
        "APPDATA",
        "LOCALAPPDATA",
        "VIRTUAL_ENV",
        "PYTHONIOENCODING",
    }
)
_KILL_GRACE_SEC = 2.0


def _describe(char: str) -> str:
    names = {"\n": "newline", "\r": "carriage return", "\t": "tab", "\x00": "NUL"}
    return names.get(char, f"U+{ord(char):04X}")


def _check_token_chars(text: str, field: str) -> None:
    for char in text:
        if not (" " <= char <= "~"):
            raise PolicyError(
                f"{field}: character {_describe(char)} is not allowed "
                "(commands may contain printable ASCII only)"
            )
        rule = _METACHARACTERS.get(char)
        if rule is not None:
            raise PolicyError(f"{field}: shell metacharacter {char!r} is not allowed ({rule})")


def _check_argv(argv: list[str], field: str) -> list[str]:
    if not argv or not argv[0]:
        raise InputError(f"{field}: must not be empty")
    for token in argv:
        if token.startswith("~"):
            raise PolicyError(
                f"{field}: '~' at the start of an argument is not allowed (home expansion)"
            )
    return argv


def split_command(command: str | Sequence[str], *, field: str = "command") -> list[str]:
    """Split a command into argv, refusing anything a shell would interpret.

    A string is split with POSIX `shlex`; a list is taken as argv. Both are checked the same
    way: printable ASCII only, no metacharacters, no leading `~`. Refusals are
    `PolicyError`; empty, over-long or badly quoted input is `InputError`.
    """
    if isinstance(command, str):
        if len(command) > MAX_COMMAND_CHARS:
            raise InputError(
                f"{field}: is {len(command)} characters, over the {MAX_COMMAND_CHARS} limit"
            )
        if not command.strip():
            raise InputError(f"{field}: must not be empty")
        _check_token_chars(command, field)
        try:
            argv = shlex.split(command, posix=True)
        except ValueError as err:
            raise InputError(f"{field}: cannot be split into arguments ({err})") from err
        return _check_argv(argv, field)
    if not isinstance(command, Sequence) or not all(isinstance(a, str) for a in command):
        raise InputError(f"{field}: must be a string or a list of strings")
    argv = list(command)
    if sum(len(a) + 1 for a in argv) > MAX_COMMAND_CHARS:
        raise InputError(f"{field}: is over the {MAX_COMMAND_CHARS}-character limit")
    for token in argv:
        _check_token_chars(token, field)
    return _check_argv(argv, field)


@dataclass(frozen=True)
class Allowed:
    """An allowlisted command: the entry that admits it and the argv to run (the agent's,
    plus the options its command spec adds, e.g. `--no-ext-diff` for git diff)."""

    entry: str
    argv: list[str]


def allow_command(
    argv: list[str],
    allowlist: Sequence[str],
    *,
    workspace: Path,
    protected: ProtectedPaths | None = None,
    field: str = "command",
) -> Allowed:
    """Admit `argv` by an allowlist entry, or raise `PolicyError` / `ConfinementError`.

    The entry must be a whole-word argv prefix (`git status` admits `git status --short`, not
    `git statusx`, `gitk` or `git -c x status`). What follows it must then be allowed by the
    spec of the command family the entry names (`engine.safety.command_specs`); an entry with
    no spec (`make test`) admits exactly its own words and nothing after them. A program
    that would be started from the workspace (a venv in it on PATH, `./script`) is refused.
    """
    candidates: list[tuple[str, list[str]]] = []
    for entry in allowlist:
        try:
            prefix = shlex.split(entry, posix=True)
        except ValueError:
            continue  # a malformed entry allows nothing
        if prefix and argv[: len(prefix)] == prefix:
            candidates.append((entry, prefix))
    if not candidates:
        shown = shlex.join(argv)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        allowed = ", ".join(allowlist) or "nothing"
        near = closest_entry(argv, allowlist)
        hint = f"; closest entry: {near!r}" if near else ""
        raise PolicyError(
            f"{field}: {shown!r} is not in the allowlist (allowed commands: {allowed}){hint}"
        )
    where = Where(workspace=workspace, protected=protected, field=field)
    program = find_program(argv[0], scrubbed_env().get("PATH", ""))
    refuse_workspace_program(program or argv[0], workspace)
    first: EngineError | None = None
    for entry, prefix in sorted(candidates, key=lambda c: -len(c[1])):
        try:
            return _admit(entry, prefix, argv, where)
        except EngineError as err:
            first = first or err
    assert first is not None
    raise first


def closest_entry(argv: list[str], allowlist: Sequence[str]) -> str | None:
    """The allowlist entry most like the start of `argv` (`git stauts` → `git status`), so a
    refusal says which rule came closest; None when nothing is at least half alike."""
    best, score = None, 0.5
    for entry in allowlist:
        words = entry.split()
        ratio = difflib.SequenceMatcher(None, " ".join(argv[: len(words)]), entry).ratio()
        if ratio >= score:
            best, score = entry, ratio
    return best


def _admit(entry: str, prefix: list[str], argv: list[str], where: Where) -> Allowed:
    family = family_of(prefix)
    if family is None:
        if len(argv) > len(prefix):
            extra = shlex.join(argv[len(prefix) :])
            if len(extra) > 60:
                extra = extra[:57] + "..."
            raise PolicyError(
                f"{where.field}: allowlist entry {entry!r} admits exactly that command; "
                f"the extra arguments {extra!r} are refused (an entry without option rules "
                "takes no arguments but its own)"
            )
        return Allowed(entry, list(argv))
    reading = check_arguments(family.spec, argv[len(prefix) :], where)
    tail = list(argv[family.length :])
    if family.spec.excludes_protected:
        tail = _excluding_protected(tail, reading, len(prefix) - family.length, where)
    run = [*argv[: family.length], *family.spec.forced, *tail]
    if family.module:
        run.insert(1, "-I")  # the workspace (the current directory) must not shadow the module
    return Allowed(entry, run)


def _excluding_protected(tail: list[str], reading: Reading, offset: int, where: Where) -> list[str]:
    """`tail` (the words after `git <sub>`) with an exclude pathspec for every console file
    of the workspace, so git never shows one even when the repository tracks it (or did).

    The excludes go after `--`; operands given before it that name existing paths move
    there too (git takes them as paths anyway), revisions stay. `--follow` takes exactly one
    pathspec, so it gets none (its one path was checked not to be a console file).
    """
    if where.protected is None or "--follow" in tail:
        return tail
    root = where.workspace.resolve()
    # Present or not: a `.env` deleted from the work tree may still be in history, holding
    # the token the operator now sets in the environment (`git log -p`, `git diff HEAD~1`).
    excludes = [
        f":(exclude,literal){path.relative_to(root).as_posix()}"
        for path in where.protected.inside(root)
    ]
    if not excludes:
        return tail
    if reading.dashdash is not None:
        return [*tail, *excludes]
    paths = {offset + i for i in reading.operands if os.path.lexists(root / tail[offset + i])}
    kept = [word for j, word in enumerate(tail) if j not in paths]
    return [*kept, "--", *(tail[j] for j in sorted(paths)), *excludes]


def command_to_run(argv: list[str], workspace: Path) -> tuple[list[str], dict[str, str]]:
    """The argv and environment an allowed command runs with: git gets the hardened
    configuration of `engine.safety.git_hardening` (and is refused outside a repository
    root), pip reads no configuration file (`pip_env`), everything gets a scrubbed
    environment."""
    env = scrubbed_env()
    if is_pip(argv):
        env.update(pip_env())
    if is_git(argv):
        # The hardening runs git itself to read the repository's configuration: give it the
        # program `run_argv` will start, never one a lookup could find in the workspace.
        program = find_program(argv[0], env.get("PATH", "")) or argv[0]
        hardened, extra = prepare_git([program, *argv[1:]], workspace)
        return [argv[0], *hardened[1:]], {**env, **extra}
    return list(argv), env


# Where pip fetches from is the operator's choice: these pass from the console's own
# environment (never from the agent's arguments, never from a configuration file).
OPERATOR_PIP_VARIABLES = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_CERT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def pip_env() -> dict[str, str]:
    """Environment entries for a pip child: no configuration file at all.

    pip reads `pip.conf` from the user's and the site's directories, and the site one is
    `<sys.prefix>/pip.conf`: for a virtual environment inside the workspace, a file the agent
    can write, which may set any option (`log`, `cache-dir`, `python`, `index-url` ...).
    `PIP_CONFIG_FILE=/dev/null` makes pip skip every file; the operator's index settings are
    taken from the console's own environment instead.
    """
    operator = {name: os.environ[name] for name in OPERATOR_PIP_VARIABLES if name in os.environ}
    return {
        **operator,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def scrubbed_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """An environment for children: allow-listed variables only, plus `GIT_TERMINAL_PROMPT=0`
    so git never waits for a password on a terminal nobody watches. `PATH` keeps only
    absolute entries: a relative one (`.`, an empty entry) would find programs in the
    child's current directory, the workspace the agent writes."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name.upper() in _ENV_ALLOW or name.upper().startswith("LC_")
    }
    for name in [n for n in env if n.upper() == "PATH"]:
        env[name] = os.pathsep.join(d for d in env[name].split(os.pathsep) if os.path.isabs(d))
    env["GIT_TERMINAL_PROMPT"] = "0"
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class CommandResult:
    """What a command did: the argv actually run, its output (capped) and how it ended."""

    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Capped:
    """Collects a stream up to `cap` bytes and keeps reading (discarding) past it, so a
    chatty child never blocks on a full pipe."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            room = self.cap - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > max(room, 0):
                self.truncated = True

    def text(self) -> str:
        return bytes(self.data).decode("utf-8", errors="replace")


async def _kill_tree(proc: asyncio.subprocess.Process) -> None:
    """Kill the child's whole process group (POSIX) or tree (Windows, via taskkill)."""
    if sys.platform == "win32":
        with contextlib.suppress(OSError):
            killer = await asyncio.create_subprocess_exec(
                "taskkill",
                "/F",
                "/T",
                "/PID",
                str(proc.pid),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(killer.wait(), 10)
        with contextlib.suppress(ProcessLookupError, OSError):
            proc.kill()
        return
    # start_new_session made the child a group leader: pgid == pid. The group outlives the
    # child while grandchildren remain, which is exactly what must die.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _spawn_options() -> dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def find_program(name: str, search_path: str) -> str | None:
    """Where a bare program name (`git`) is on the absolute entries of `search_path`.

    The lookup is ours, not the OS's: Windows would try the current directory first (the
    node's workspace under the zero-config defaults) and POSIX a relative PATH entry, both
    places the agent writes. None for a name with a directory part (the operator named that
    file) or one not found (starting it then fails as "not found").
    """
    if not name or "/" in name or "\\" in name:
        return None
    suffixes = [""]
    if sys.platform == "win32":
        suffixes = os.environ.get("PATHEXT", ".COM;.EXE;.BAT;.CMD").lower().split(";")
        if Path(name).suffix:
            suffixes.insert(0, "")
    for folder in search_path.split(os.pathsep):
        if not folder or not os.path.isabs(folder):
            continue
        for suffix in suffixes:
            candidate = os.path.join(folder, name + suffix)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return None


def refuse_workspace_program(program: str, cwd: Path) -> None:
    """Refuse to start a program that lies in `cwd` (the workspace): the agent can write
    it or what it loads (a virtual environment's site-packages take `.pth` files that run
    code at start-up, a script imports its neighbours). A bare name that was not found is
    left to fail as "not found"."""
    if not any(sep in program for sep in ("/", "\\")):
        return
    location = Path(program) if os.path.isabs(program) else cwd / program
    roots = {Path(os.path.abspath(cwd)), cwd.resolve()}
    for candidate in (Path(os.path.abspath(location)), location.resolve()):
        if any(candidate.is_relative_to(root) for root in roots):
            raise PolicyError(
                f"command: program {program!r} lies in the workspace, which the agent can "
                "write (or what it loads); allowlist a program installed outside it"
            )


async def run_argv(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout_sec: float,
    output_cap: int = DEFAULT_OUTPUT_CAP,
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run argv (never through a shell) and return what happened.

    stdin is closed; the child gets its own session so a timeout (or cancellation of the
    caller) kills the whole tree; output is capped per stream; a grandchild holding the
    pipes open cannot make this hang. `env=None` means `scrubbed_env()`.
    """
    args = list(argv)
    if not args:
        raise InputError("command: must not be empty")
    child_env = scrubbed_env() if env is None else env
    executable = find_program(args[0], child_env.get("PATH", ""))
    refuse_workspace_program(executable or args[0], cwd)
    started = time.perf_counter()
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            executable=executable,
            cwd=cwd,
            env=child_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            **_spawn_options(),
        )
    except FileNotFoundError as err:
        if err.filename is not None and str(err.filename) == str(cwd):
            raise ToolFailure(f"cwd: {cwd} does not exist") from err
        raise ToolFailure(f"command: program {args[0]!r} not found") from err
    except PermissionError as err:
        raise ToolFailure(f"command: program {args[0]!r} is not executable") from err
    except OSError as err:
        raise ToolFailure(f"command: cannot start {args[0]!r}: {err.strerror or err}") from err

    out, err_ = _Capped(output_cap), _Capped(output_cap)
    tasks = {
        asyncio.create_task(out.drain(proc.stdout)),
        asyncio.create_task(err_.drain(proc.stderr)),
        asyncio.create_task(proc.wait()),
    }
    timed_out = False
    try:
        _, pending = await asyncio.wait(tasks, timeout=timeout_sec)
        if pending:
            timed_out = True
            await _kill_tree(proc)
            _, pending = await asyncio.wait(pending, timeout=_KILL_GRACE_SEC)
    finally:
        # Also reached when the caller is cancelled: never leave the tree or readers behind.
        # On POSIX the group is killed even after a normal exit: no stray background
        # process outlives the tool. On Windows only a live tree needs taskkill.
        if sys.platform != "win32" or proc.returncode is None:
            await _kill_tree(proc)
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            transport.close()  # release pipes a detached grandchild may still hold
    return CommandResult(
        argv=args,
        returncode=proc.returncode,
        stdout=out.text(),
        stderr=err_.text(),
        timed_out=timed_out,
        truncated=out.truncated or err_.truncated,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
