"""docs/security.md, 1: an adversarial corpus of command strings, none of which may run.

Every potent entry would create the file `pwned` if a shell ever saw it; a control test runs
those through a real `sh -c` to prove the sentinel works, then the real test sends every
entry through `shell_exec` (check, dry run and run) with process creation forbidden and
asserts a refusal, no spawn and no marker.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import EngineError, InputError, PolicyError
from engine.safety.commands import scrubbed_env, split_command
from engine.tools.builtin.shell import SHELL_EXEC
from engine.tools.spec import ToolContext

MakeCtx = Callable[..., ToolContext]


P = True  # would create `pwned` under `sh -c` in a git repository
N = False
CORPUS: list[tuple[str, bool]] = [
    ("git status; touch pwned", P),
    ("git status;touch pwned", P),
    ("git status && touch pwned", P),
    ("git statusx || touch pwned", P),
    ("git status | touch pwned", P),
    ("git status & touch pwned", P),
    ("git status & disown; touch pwned", P),
    ("git status $(touch pwned)", P),
    ("git status `touch pwned`", P),
    ("git status > pwned", P),
    ("git status >> pwned", P),
    ("git status 2>pwned", P),
    ("git status 2>&1 | touch pwned", P),
    ("git diff HEAD > pwned", P),
    ("git status < /etc/hostname", N),
    ("git status';touch pwned;'", N),
    ("git status '' ; touch pwned", P),
    ("git 'status'; 'touch' pwned", P),
    ('git "status";touch pwned', P),
    ("git status\ntouch pwned", P),
    ("git status\r\ntouch pwned", P),
    ("git status\rtouch pwned", N),
    ("git status $IFS; touch pwned", P),
    ("git status ${IFS}touch pwned", N),
    ("git status $((1+1))", N),
    ("git -c core.fsmonitor='touch pwned' status", P),
    ("git -c alias.st='!touch pwned' st", P),
    ("git -c core.pager=id status", N),
    ("git --exec-path=. status", N),
    ("git --exec-path", N),
    ("git -C .. status", N),
    ("GIT_DIR=/tmp git status", N),
    ("git diff --output=pwned", P),
    ("git log --output=pwned", P),
    ("git diff --ext-diff", N),
    ("git diff --no-index /etc/hostname /dev/null", N),
    ("git log -p --textconv", N),
    ("touch pwned", P),
    ("exec touch pwned", P),
    ("eval 'touch pwned'", P),
    ("sh -c 'touch pwned'", P),
    ("bash -c 'touch pwned'", P),
    ("/bin/sh -c 'touch pwned'", P),
    ("env touch pwned", P),
    ("env X=1 git status", N),
    ("X=1 git status", N),
    ("X=1 touch pwned", P),
    ('python -c \'open("pwned", "w")\'', P),
    ("python -c print", N),
    ("python -m pytest -p no:cacheprovider; touch pwned", P),
    ("pip list && touch pwned", P),
    ("pip install pwned", N),
    ("gitk", N),
    ("git statusx", N),
    ("./git status", N),
    ("git status #; touch pwned", N),
    ("git status\uff1btouch pwned", N),  # fullwidth semicolon
    ("git status\uff5ctouch pwned", N),  # fullwidth vertical line
    ("git status\uff06\uff06touch pwned", N),  # fullwidth ampersands
    ("git status\u037etouch pwned", N),  # Greek question mark, looks like ';'
    ("git status\u2028touch pwned", N),  # unicode line separator
    ("git status\u00a0touch pwned", N),  # no-break space
    ("\uff47\uff49\uff54 status", N),  # fullwidth 'git'
    ("git\tstatus", N),
    ("touch\tpwned", P),
    ("git status\ttouch pwned", N),
    ("git\x0bstatus", N),  # vertical tab
    ("git status\x00; touch pwned", N),  # NUL (cannot even reach a shell)
    ("git status\\;touch pwned", N),
    ("git status \\\ntouch pwned", N),
    ("git status *", N),
    ("git status ?", N),
    ("git status [a]", N),
    ("git status {a,b}", N),
    ("git status ~/.ssh", N),
    ("~/bin/git status", N),
    ("git status " + "A" * 5000 + "; touch pwned", P),
    ("git status " + "A" * 5000, N),
    ("", N),
    ("   ", N),
    ("git status 'unterminated", N),
    ("git log --format='%h' HEAD)", N),
]
LIST_CORPUS: list[list[str]] = [
    ["git", "status", ";", "touch", "pwned"],
    ["git", "status", "$(touch pwned)"],
    ["git", "-c", "core.fsmonitor=touch pwned", "status"],
    ["sh", "-c", "touch pwned"],
    ["touch", "pwned"],
    ["git", "status\ntouch pwned"],
    ["git", "diff", "--output=pwned"],
    [],
    [""],
]
ALLOWLIST = ["git status", "git diff", "git log", "python -m pytest", "pip list", "pip show"]
IDS = [repr(c)[:40] for c, _ in CORPUS]


def args_for(**kwargs: Any) -> Any:
    return SHELL_EXEC.args_model.model_validate(kwargs)


def _repo(path: Path) -> Path:
    path.mkdir()
    pygit2.init_repository(str(path)).free()
    return path


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) + len(LIST_CORPUS) >= 60
    assert sum(potent for _, potent in CORPUS) >= 30


@pytest.mark.parametrize(("command", "potent"), [c for c in CORPUS if c[1]], ids=str)
def test_control_potent_entries_do_run_under_a_real_shell(
    tmp_path: Path, command: str, potent: bool
) -> None:
    """The sentinel is real: a shell given the same text creates the marker."""
    cwd = _repo(tmp_path / "control")
    subprocess.run(
        ["sh", "-c", command], cwd=cwd, env=scrubbed_env(), capture_output=True, timeout=30
    )
    assert (cwd / "pwned").exists()


@pytest.mark.parametrize(("command", "potent"), CORPUS, ids=IDS)
async def test_corpus_is_refused_before_anything_runs(
    workspace: Path,
    make_ctx: MakeCtx,
    forbid_spawn: list[object],
    command: str,
    potent: bool,
) -> None:
    pygit2.init_repository(str(workspace)).free()
    ctx = make_ctx(SHELL_ALLOWLIST=ALLOWLIST)
    args = args_for(command=command)
    assert SHELL_EXEC.check is not None and SHELL_EXEC.dry_run is not None
    with pytest.raises((PolicyError, InputError)) as refused:
        SHELL_EXEC.check(ctx, args)
    assert str(refused.value).startswith("command: ")
    with pytest.raises((PolicyError, InputError)):
        await SHELL_EXEC.dry_run(ctx, args)
    with pytest.raises((PolicyError, InputError)):
        await SHELL_EXEC.run(ctx, args)
    assert forbid_spawn == []
    assert not (workspace / "pwned").exists()


@pytest.mark.parametrize("argv", LIST_CORPUS, ids=repr)
async def test_list_corpus_is_refused(
    workspace: Path, make_ctx: MakeCtx, forbid_spawn: list[object], argv: list[str]
) -> None:
    ctx = make_ctx(SHELL_ALLOWLIST=ALLOWLIST)
    with pytest.raises((PolicyError, InputError)):
        await SHELL_EXEC.run(ctx, args_for(command=argv))
    assert forbid_spawn == []
    assert not (workspace / "pwned").exists()


_META = st.sampled_from([*";&|$`<>()*?[]{}\\\n\r\x00\t", "\uff1b", "\u2028", "\u00e9"])


@given(before=st.text(max_size=40), meta=_META, after=st.text(max_size=40))
def test_any_string_with_a_metacharacter_is_refused(before: str, meta: str, after: str) -> None:
    with pytest.raises(EngineError):
        split_command(f"git status {before}{meta}{after}")


@given(st.text(max_size=80))
def test_whatever_splits_is_plain_printable_ascii(text: str) -> None:
    try:
        argv = split_command(text)
    except (PolicyError, InputError):
        return
    for token in argv:
        assert all(" " <= ch <= "~" and ch not in ";&|$`<>()*?[]{}\\" for ch in token)
        assert not token.startswith("~")
