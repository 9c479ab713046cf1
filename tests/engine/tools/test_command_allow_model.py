"""engine.safety.command_rules and command_specs: how the allow model reads an argv.

The hostile corpora (test_command_hostile.py, test_sandbox_hostile.py, the node's
test_shell_hostile.py) show the attacks fail end to end; this file pins the reading itself:
option forms, values, clusters, operands, `--`, which spec an entry names, and properties
that must hold for every argv the model admits.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ConfinementError, EngineError, PolicyError
from engine.safety.command_specs import GIT_DIFF, PIP_DOWNLOAD, PYTEST, family_of
from engine.safety.commands import allow_command
from engine.safety.protected import ProtectedPaths

ALLOW = [
    "git status",
    "git diff",
    "git log",
    "python -m pytest",
    "pip list",
    "pip show",
    "pip --version",
    "python -m pip show",
]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_a.py").write_text("def test_x():\n    pass\n")
    (root / "README.md").write_text("hi\n")
    (root / ".env").write_text("EXECUTION_TOKEN=x\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    (root / "out-link").symlink_to(tmp_path / "secret.txt")
    (root / "env-link").symlink_to(root / ".env")
    os.link(root / ".env", root / "env-hard")
    return root


def admit(ws: Path, *argv: str, allowlist: list[str] | None = None) -> list[str]:
    protected = ProtectedPaths.of([ws / ".env"])
    return allow_command(list(argv), allowlist or ALLOW, workspace=ws, protected=protected).argv


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "status", "-sb"],
        ["git", "status", "-s", "-b", "-z"],
        ["git", "status", "-uno"],
        ["git", "status", "-u"],
        ["git", "status", "--porcelain=v2", "--branch"],
        ["git", "status", "--", "README.md", "tests"],
        ["git", "diff", "--stat=80", "--cached"],
        ["git", "diff", "-U0", "--unified=5", "--word-diff=plain"],
        ["git", "diff", "HEAD~1", "HEAD", "--", "README.md"],
        ["git", "diff", "main...HEAD^"],
        ["git", "log", "-3", "--oneline", "--graph", "--decorate"],
        ["git", "log", "-n", "5", "--max-count=5", "--skip", "2"],
        ["git", "log", "--format=%h %s", "--author=ada", "--since=2 weeks ago"],
        ["git", "log", "-Sneedle", "-p", "--", "README.md"],
        ["python", "-m", "pytest", "-qx", "-vv", "tests"],
        ["python", "-m", "pytest", "-k", "not slow", "-m", "unit", "--tb=short"],
        ["python", "-m", "pytest", "--tb", "line", "-rfE", "-r", "a", "--maxfail=2"],
        ["python", "-m", "pytest", "-p", "no:cacheprovider", "-pno:cacheprovider"],
        ["python", "-m", "pytest", "tests/test_a.py::test_x", "--deselect", "tests/x.py::y"],
        ["python", "-m", "pytest", "--co", "--lf", "--", "tests"],
        ["pip", "list", "--format=json", "-o", "--exclude", "pip"],
        ["pip", "list", "-vq", "--no-color"],
        ["pip", "show", "-f", "pip", "httpx"],
        ["pip", "--version"],
        ["python", "-m", "pip", "show", "pip"],
    ],
)
def test_everyday_argvs_are_admitted(ws: Path, argv: list[str]) -> None:
    admit(ws, *argv)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["git", "status", "-v"], "shows diffs"),
        (["git", "status", "-sv"], "'-sv'"),
        (["git", "status", "-su"], "'-su'"),  # a valued short in a cluster is not a flag
        (["git", "status", "--short=yes"], "takes no value"),
        (["git", "diff", "-U", "3"], "needs its value attached (-UVALUE)"),
        (["git", "diff", "--unified", "3"], "needs its value attached (--unified=VALUE)"),
        (["git", "diff", "-Ux"], "is not a number"),
        (["git", "log", "-n", "--output=x"], "must not start with '-'"),
        (["git", "log", "-n"], "needs a value"),
        (["git", "log", "-n=3"], "write -nVALUE or -n VALUE"),
        (["git", "log", "--format=%G?"], "gpg"),
        (["git", "log", "--pretty=%GS"], "gpg"),
        (["git", "log", "--", "-weird"], "must not start with '-'"),
        (["git", "diff", "-"], "'-'"),
        (["git", "status", ":/"], "pathspec magic"),
        (["git", "diff", "HEAD:../x"], "':'"),
        (["git", "diff", "--no-index", "a", "b"], "outside the repository"),
        (["python", "-m", "pytest", "-x", "-p", "xdist"], "not one of no:cacheprovider"),
        (["python", "-m", "pytest", "-xp", "evil"], "'-xp'"),
        (["python", "-m", "pytest", "-r=fE"], "write -rVALUE"),
        (["python", "-m", "pytest", "--tb=evil"], "is not one of"),
        (["python", "-m", "pytest", "--maxfail=x"], "is not a number"),
        (["python", "-m", "pytest", "-k", "-x"], "must not start with '-'"),
        (["python", "-m", "pytest", "--", "-pevil"], "must not start with '-'"),
        (["python", "-m", "pytest", "--", "@args"], "'@'"),
        (["python", "-m", "pytest", "tests/test_a.py::x/../../y"], "not a plain identifier"),
        (["python", "-m", "pytest", "--junit-x=x"], "abbreviations"),
        (["python", "-m", "pytest", "--co=1"], "takes no value"),
        (["pip", "list", "-vi", "x"], "'-vi'"),
        (["pip", "list", "--format=html"], "is not one of"),
        (["pip", "list", "stray"], "takes no operands"),
        (["pip", "list", "--", "x"], "takes no '--'"),
        (["pip", "show", "pip==1.0"], "not a package name"),
        (["pip", "show", "--python=/bin/sh", "pip"], "another interpreter"),
        (["python", "-m", "pip", "show", "--isolated", "pip"], "configuration"),
    ],
)
def test_refusals_name_the_word_and_the_rule(ws: Path, argv: list[str], words: str) -> None:
    with pytest.raises(PolicyError) as refused:
        admit(ws, *argv)
    message = str(refused.value)
    assert message.startswith("command: ") and words in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "diff", "out-link"],
        ["git", "status", "--", "out-link"],
        ["python", "-m", "pytest", "out-link"],
        ["python", "-m", "pytest", "/etc"],
        ["git", "log", "--", "/etc/passwd"],
    ],
)
def test_paths_that_lead_outside_are_confinement_errors(ws: Path, argv: list[str]) -> None:
    with pytest.raises(ConfinementError, match="outside the workspace"):
        admit(ws, *argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "diff", ".env"],
        ["git", "log", "-p", "--", ".ENV"],
        ["git", "status", "env-link"],
        ["git", "diff", "--", "env-hard"],  # a hard link is the same file
        ["python", "-m", "pytest", ".env"],
    ],
)
def test_the_consoles_own_files_are_refused_by_any_name(ws: Path, argv: list[str]) -> None:
    with pytest.raises(ConfinementError, match="console's own files"):
        admit(ws, *argv)


EXCLUDE_ENV = ":(exclude,literal).env"


def test_the_effective_argv_adds_the_specs_own_options(ws: Path) -> None:
    # git diff and log: no external driver or conversion; every git command: the console's
    # files present in the workspace (here `.env`) excluded by pathspec.
    diff = ["git", "diff", "--no-ext-diff", "--no-textconv", "--", EXCLUDE_ENV]
    assert admit(ws, "git", "diff") == diff
    assert admit(ws, "git", "log", "-1")[2:4] == ["--no-ext-diff", "--no-textconv"]
    assert admit(ws, "git", "status") == ["git", "status", "--", EXCLUDE_ENV]
    # `python -m pip` runs isolated: the workspace (the current directory) cannot shadow pip.
    assert admit(ws, "python", "-m", "pip", "show", "pip") == [
        "python", "-I", "-m", "pip", "show", "pip",
    ]  # fmt: skip
    download = admit(ws, "pip", "download", "x", allowlist=["pip download"])
    assert download == ["pip", "download", "--only-binary=:all:", "x"]


def test_operator_entries_keep_their_own_words_and_take_the_specs_rules(ws: Path) -> None:
    entries = ["git log --oneline", "make test", "python3.11 -m pytest", "pytest"]
    assert admit(ws, "git", "log", "--oneline", "-n", "3", allowlist=entries)
    with pytest.raises(PolicyError, match="'--output'"):
        admit(ws, "git", "log", "--oneline", "--output=x", allowlist=entries)
    with pytest.raises(PolicyError, match="'git log' is not in the allowlist"):
        admit(ws, "git", "log", allowlist=entries)
    assert admit(ws, "python3.11", "-m", "pytest", "-q", allowlist=entries)
    with pytest.raises(PolicyError, match="'--basetemp'"):
        admit(ws, "pytest", "--basetemp=/tmp/x", allowlist=entries)
    with pytest.raises(PolicyError, match="admits exactly"):
        admit(ws, "make", "test", "-f", "/tmp/evil.mk", allowlist=entries)


def test_the_longest_matching_entry_is_tried_first(ws: Path) -> None:
    entries = ["git diff", "git diff --stat"]
    admitted = admit(ws, "git", "diff", "--stat", "--cached", allowlist=entries)
    assert admitted[-3:] == ["--cached", "--", EXCLUDE_ENV]
    with pytest.raises(PolicyError, match="'--output'"):
        admit(ws, "git", "diff", "--stat", "--output=x", allowlist=entries)


def test_which_spec_an_entry_names() -> None:
    def spec_of(entry: str) -> object:
        family = family_of(entry.split())
        return family.spec if family else None

    assert spec_of("git diff") is GIT_DIFF and spec_of("git.exe diff") is GIT_DIFF
    assert spec_of("python -m pytest") is PYTEST and spec_of("pytest") is PYTEST
    assert spec_of("python3 -m pip download") is PIP_DOWNLOAD
    for entry in ("git", "git show", "git -c x diff", "python --version", "make test", "pip"):
        assert spec_of(entry) is None, entry


_VOCAB = [
    "-p", "-pevil", "no:cacheprovider", "evil", "-k", "x", "-q", "-x", "-qx", "-xp",
    "--basetemp=/tmp/x", "--tb", "short", "-o", "cache_dir=/tmp", "@args", "--", "tests",
    "-r", "fE", "-rfE", "--junitxml", "--co", "-m", "-c", "/tmp", "-s", "-ps", "-v",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(st.sampled_from(_VOCAB), max_size=7))
def test_whatever_pytest_argv_is_admitted_loads_no_plugin_and_reads_no_file(
    tmp_path_factory: pytest.TempPathFactory, words: list[str]
) -> None:
    """pytest's pre-scan loads `-pNAME` and `-p NAME` anywhere in argv, `@file` reads
    arguments: no admitted argv may contain either, whatever the order."""
    ws = tmp_path_factory.getbasetemp() / "prop-ws"
    (ws / "tests").mkdir(parents=True, exist_ok=True)
    try:
        argv = admit(ws, "python", "-m", "pytest", *words)
    except EngineError:
        return
    rest = argv[3:]
    for i, word in enumerate(rest):
        if word == "-p":
            assert rest[i + 1] == "no:cacheprovider"
        elif word.startswith("-p"):
            assert word == "-pno:cacheprovider"
        assert not word.startswith("@")
        assert not word.startswith(("--basetemp", "--junitxml", "-o", "-c"))
        if word.startswith("/"):  # only as an expression for -k / -m, never as a path
            assert i > 0 and rest[i - 1] in ("-k", "-m")


def test_git_log_filters_take_separate_values_but_never_an_option(ws: Path) -> None:
    assert admit(ws, "git", "log", "--author", "ada", "--grep", "fix", "--since", "monday")
    with pytest.raises(PolicyError, match="must not start with '-'"):
        admit(ws, "git", "log", "--grep", "--output=x")


_GIT_VOCAB = [
    "--output=x", "--output", "x", "--no-index", "--no-ind", "--ext-diff", "--textconv",
    "--binary", "-Oorder", "-O", "--stat", "-U3", "-U", "3", "-n", "--", "README.md",
    "../x", "/etc/passwd", "HEAD", "HEAD:README.md", "-p", "--exec=x", "-c", "-sb",
    "--format=%GG", "--format=%h", "--open-files-in-pager", ".env", "--submodule=log",
]  # fmt: skip
_NEVER = ("--output", "--no-ind", "--ext", "--textconv", "--binary", "-O", "--exec", "--open")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sub=st.sampled_from(["status", "diff", "log"]),
    words=st.lists(st.sampled_from(_GIT_VOCAB), max_size=7),
)
def test_whatever_git_argv_is_admitted_writes_reads_and_runs_nothing_else(
    tmp_path_factory: pytest.TempPathFactory, sub: str, words: list[str]
) -> None:
    ws = tmp_path_factory.getbasetemp() / "git-prop-ws"
    ws.mkdir(exist_ok=True)
    (ws / "README.md").touch()
    try:
        argv = admit(ws, "git", sub, *words)
    except EngineError:
        return
    for word in argv[2:]:
        if word.startswith(":(exclude,literal)"):
            continue  # the console's own exclude pathspecs
        assert not word.startswith(_NEVER), argv
        assert "%G" not in word and ":" not in word and ".." not in word, argv
        assert not word.startswith("/") and word != ".env", argv


def test_paths_given_before_dashdash_move_after_it_with_the_excludes(ws: Path) -> None:
    run = admit(ws, "git", "diff", "HEAD~1", "README.md", "--stat")
    assert run[4:] == ["HEAD~1", "--stat", "--", "README.md", EXCLUDE_ENV]
    run = admit(ws, "git", "log", "--oneline", "--", "tests")
    assert run[-3:] == ["--", "tests", EXCLUDE_ENV]
    # `--follow` takes exactly one pathspec: none added (that one was checked).
    assert admit(ws, "git", "log", "--follow", "--", "README.md")[-2:] == ["--", "README.md"]


def test_excludes_even_without_console_files_in_the_work_tree(tmp_path: Path) -> None:
    # A `.env` deleted from the work tree may still be in history (tests/redteam/
    # test_secret_in_history.py): the exclude is there whether or not the file is.
    protected = ProtectedPaths.of([tmp_path / ".env"])  # protected, but not there
    plain = allow_command(["git", "status"], ALLOW, workspace=tmp_path, protected=protected)
    assert plain.argv == ["git", "status", "--", ":(exclude,literal).env"]
