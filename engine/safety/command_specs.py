"""The command families the console knows, and what each may be given (docs/security.md, promise 1).

Each spec lists options by exact name with the kind of their value, and the kind of the
operands (`engine.safety.command_rules` applies them). The lists hold display and selection
options only: nothing that names a file to write, a program or plugin to run, another
configuration, repository, index or interpreter. `dangers` says why the best-known refused
options are refused, so the message can.

`python -m pytest` runs the workspace's own test code (`conftest.py`, test modules, plugins
its ini file names, even a `pytest.py` that shadows pytest) by design: that is what the
operator allows when allowlisting it. The spec keeps the *agent's options* from adding
anything to that (plugins, output files, other configuration, other directories).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.safety.command_rules import (
    GIT_FORMAT,
    GIT_PATH,
    GIT_REV_OR_PATH,
    NUMBER,
    PACKAGE,
    REQUIREMENT,
    TEST_PATH,
    TEXT,
    CommandSpec,
    choice,
    flags,
    matching,
    valued,
)

# --- git -------------------------------------------------------------------------------------

GIT_DANGERS = {
    "--output": "it writes a file anywhere",
    "--no-index": "it compares files outside the repository",
    "--ext-diff": "it runs an external diff program",
    "--textconv": "it runs text conversion programs",
    "--binary": "it dumps binary content",
    "-O": "it reads an order file from anywhere",
    "--open-files-in-pager": "it starts a pager",
    "--exec": "it runs a program",
    "--upload-pack": "it runs a program",
    "--receive-pack": "it runs a program",
    "--show-signature": "it runs gpg",
    "--submodule": "it runs git in submodules",
}
_WHEN = choice("all", "dirty", "untracked", "none")
_STAT = matching(r"[0-9]{1,4}(,[0-9]{1,4}){0,2}", "a width such as 80 or 80,40")
_COLOR = choice("always", "never", "auto")
# The display options diff and log share: how a change is shown, never where it is written,
# which program shows it or which files outside the repository are compared.
_DIFF_DISPLAY = (
    flags("-p", "-u", "--patch", "-s", "--no-patch", "--raw", "--patch-with-raw"),
    flags("--patch-with-stat", "--numstat", "--shortstat", "--summary"),
    flags("--name-only", "--name-status", "--no-renames", "--full-index", "--no-prefix"),
    flags("-w", "--ignore-all-space", "-b", "--ignore-space-change", "--ignore-blank-lines"),
    flags("--ignore-space-at-eol", "--ignore-cr-at-eol", "-W", "--function-context", "-R"),
    flags("--minimal", "--patience", "--histogram", "--no-color", "--color-moved"),
    flags("--no-ext-diff", "--no-textconv", "-a", "--text", "--indent-heuristic"),
    valued("-U", "--unified", kind=NUMBER, separate=False),
    valued("--inter-hunk-context", kind=NUMBER, separate=False),
    valued("--stat", kind=_STAT, bare=True, separate=False),
    valued("--color", kind=_COLOR, bare=True, separate=False),
    valued("--word-diff", kind=choice("color", "plain", "porcelain", "none"), bare=True,
           separate=False),
    valued("--abbrev", kind=NUMBER, bare=True, separate=False),
    valued("-M", "--find-renames", kind=matching(r"[0-9]{1,3}%?", "a percentage"), bare=True,
           separate=False),
    valued("--diff-algorithm", kind=choice("default", "myers", "minimal", "patience",
                                           "histogram"), separate=False),
    valued("--diff-filter", kind=matching(r"[ACDMRTUXBacdmrtuxb]{1,20}", "status letters"),
           separate=False),
    valued("--ignore-submodules", kind=_WHEN, bare=True, separate=False),
)  # fmt: skip

GIT_STATUS = CommandSpec(
    "git status",
    (
        flags("-s", "--short", "-b", "--branch", "--long", "-z", "--show-stash"),
        flags("--ahead-behind", "--no-ahead-behind", "--renames", "--no-renames"),
        flags("--no-column"),
        valued("--porcelain", kind=choice("v1", "v2"), bare=True, separate=False),
        valued("-u", "--untracked-files", kind=choice("no", "normal", "all"), bare=True,
               separate=False),
        valued("--ignored", kind=choice("traditional", "no", "matching"), bare=True,
               separate=False),
        valued("--ignore-submodules", kind=_WHEN, bare=True, separate=False),
        valued("--find-renames", kind=matching(r"[0-9]{1,3}%?", "a percentage"), bare=True,
               separate=False),
    ),
    operand=GIT_PATH,
    after_dashdash=GIT_PATH,
    clusters=True,
    excludes_protected=True,
    dangers=GIT_DANGERS | {"-v": "it shows diffs through the configured drivers"},
)  # fmt: skip

GIT_DIFF = CommandSpec(
    "git diff",
    (
        *_DIFF_DISPLAY,
        flags("--cached", "--staged", "--merge-base", "--exit-code", "--quiet", "--check", "-z"),
    ),
    operand=GIT_REV_OR_PATH,
    after_dashdash=GIT_PATH,
    forced=("--no-ext-diff", "--no-textconv"),
    excludes_protected=True,
    dangers=GIT_DANGERS,
)

GIT_LOG = CommandSpec(
    "git log",
    (
        *_DIFF_DISPLAY,
        flags("--oneline", "--graph", "--all", "--branches", "--tags", "--reverse", "--merges"),
        flags("--no-merges", "--first-parent", "--topo-order", "--date-order", "--follow"),
        flags("--abbrev-commit", "--no-abbrev-commit", "--relative-date", "--left-right"),
        flags("--no-decorate", "--regexp-ignore-case", "-i", "--all-match", "--invert-grep"),
        flags("--boundary", "--parents", "--children", "--no-walk", "--full-history"),
        valued("-n", "--max-count", "--skip", kind=NUMBER),
        valued("--decorate", kind=choice("short", "full", "auto", "no"), bare=True,
               separate=False),
        valued("--format", "--pretty", kind=GIT_FORMAT, bare=True, separate=False),
        valued("--date", kind=matching(r"[a-z-]{1,20}", "a date format name"), separate=False),
        valued("--since", "--until", "--after", "--before", kind=TEXT),
        valued("--author", "--committer", "--grep", kind=TEXT),
        valued("-S", "-G", kind=TEXT),
    ),
    operand=GIT_REV_OR_PATH,
    after_dashdash=GIT_PATH,
    numeric_count=True,
    forced=("--no-ext-diff", "--no-textconv"),
    excludes_protected=True,
    dangers=GIT_DANGERS,
)  # fmt: skip

# --- pytest ----------------------------------------------------------------------------------

PYTEST_DANGERS = {
    "-p": "it loads a plugin (only '-p no:cacheprovider' is allowed)",
    "-c": "it reads another configuration file",
    "--config-file": "it reads another configuration file",
    "--rootdir": "it moves pytest's root directory",
    "--basetemp": "it deletes and writes a directory anywhere",
    "--junitxml": "it writes a file anywhere",
    "--junit-xml": "it writes a file anywhere",
    "--resultlog": "it writes a file anywhere",
    "--result-log": "it writes a file anywhere",
    "--log-file": "it writes a file anywhere",
    "--debug": "it writes a file anywhere",
    "--cache-dir": "it writes a directory anywhere",
    "-o": "it overrides configuration (cache_dir, addopts, ...)",
    "--override-ini": "it overrides configuration (cache_dir, addopts, ...)",
    "--confcutdir": "it loads conftest.py files from elsewhere",
    "--pyargs": "it imports modules by name",
    "--pdb": "it starts a debugger",
    "--pdbcls": "it imports a class by name",
    "--trace": "it starts a debugger",
    "--import-mode": "it changes how test code is imported",
    "-W": "it imports warning classes by name",
    "--pythonwarnings": "it imports warning classes by name",
    "--cache-clear": "it deletes the cache directory",
}
PYTEST = CommandSpec(
    "python -m pytest",
    (
        flags("-q", "--quiet", "-v", "--verbose", "-x", "--exitfirst", "-s", "-l"),
        flags("--showlocals", "--co", "--collect-only", "--collectonly", "--lf"),
        flags("--last-failed", "--ff", "--failed-first", "--nf", "--new-first", "--sw"),
        flags("--stepwise", "--strict-markers", "--no-header", "--no-summary", "--runxfail"),
        flags("--disable-warnings", "--disable-pytest-warnings", "--full-trace", "--setup-show"),
        flags("--fixtures", "--markers", "-h", "--help", "--version", "-V"),
        valued("-k", "-m", kind=TEXT),
        valued("-p", kind=choice("no:cacheprovider")),
        valued("-r", kind=matching(r"[fEsxXpPaAwN]{1,12}", "report characters such as fE")),
        valued("--tb", kind=choice("auto", "long", "short", "line", "native", "no")),
        valued("--capture", kind=choice("fd", "sys", "no", "tee-sys")),
        valued("--color", kind=choice("yes", "no", "auto")),
        valued("--maxfail", "--durations", kind=NUMBER),
        valued("--deselect", "--ignore", kind=TEST_PATH),
    ),
    operand=TEST_PATH,
    after_dashdash=TEST_PATH,
    clusters=True,
    argfile_prefix="@",
    dangers=PYTEST_DANGERS,
)

# --- pip ---------------------------------------------------------------------------------------

PIP_DANGERS = {
    "--python": "it re-executes another interpreter",
    "-i": "it chooses the package index",
    "--index-url": "it chooses the package index",
    "--extra-index-url": "it chooses the package index",
    "--no-index": "it chooses where packages come from",
    "-f": "it chooses where packages come from",
    "--find-links": "it chooses where packages come from",
    "--trusted-host": "it turns off TLS checks for a host",
    "--cert": "network settings are the operator's",
    "--client-cert": "network settings are the operator's",
    "--proxy": "network settings are the operator's",
    "-r": "it reads a requirements file",
    "--requirement": "it reads a requirements file",
    "-c": "it reads a constraints file",
    "--constraint": "it reads a constraints file",
    "--log": "it writes a file anywhere",
    "--log-file": "it writes a file anywhere",
    "--cache-dir": "it writes a directory anywhere",
    "-d": "it writes a directory anywhere",
    "--dest": "it writes a directory anywhere",
    "-t": "it writes a directory anywhere",
    "--target": "it writes a directory anywhere",
    "--prefix": "it writes a directory anywhere",
    "--root": "it writes a directory anywhere",
    "--src": "it writes a directory anywhere",
    "--no-binary": "it builds packages from source (runs their build code)",
    "-C": "it steers a build backend",
    "--config-settings": "it steers a build backend",
    "--global-option": "it steers a build backend",
    "--build-option": "it steers a build backend",
    "--isolated": "it changes which configuration pip reads",
    "--path": "it reads other directories",
}
_PIP_GENERAL = (
    flags("-v", "--verbose", "-q", "--quiet", "--no-color", "--disable-pip-version-check"),
    flags("--no-input"),
)
PIP_LIST = CommandSpec(
    "pip list",
    (
        *_PIP_GENERAL,
        flags("-o", "--outdated", "-u", "--uptodate", "-e", "--editable", "-l", "--local"),
        flags("--user", "--pre", "--not-required", "--exclude-editable", "--include-editable"),
        valued("--format", kind=choice("columns", "freeze", "json")),
        valued("--exclude", kind=PACKAGE),
    ),
    clusters=True,
    dangers=PIP_DANGERS,
)
PIP_SHOW = CommandSpec(
    "pip show",
    (*_PIP_GENERAL, flags("-f", "--files")),
    operand=PACKAGE,
    clusters=True,
    dangers=PIP_DANGERS,
)
# Wheels only (`--only-binary=:all:` is forced; dependencies are wheels too), so no package's
# build code ever runs; the index is the operator's (see engine.tools.builtin.sandbox).
PIP_DOWNLOAD = CommandSpec(
    "pip download",
    (
        *_PIP_GENERAL,
        flags("--no-deps", "--pre", "--prefer-binary"),
        valued("--only-binary", kind=choice(":all:")),
        valued("--platform", "--abi", kind=matching(r"[A-Za-z0-9_.]{1,64}", "a tag")),
        valued("--python-version", kind=matching(r"[0-9]{1,2}(\.[0-9]{1,2}){0,2}", "a version")),
        valued("--implementation", kind=choice("cp", "pp", "py", "ip", "jy")),
    ),
    operand=REQUIREMENT,
    clusters=True,
    forced=("--only-binary=:all:",),
    dangers=PIP_DANGERS | {"-e": "it builds a local project", "--editable": "it builds one"},
)  # fmt: skip

# --- which spec an allowlist entry names ----------------------------------------------------------

_PYTHON = re.compile(r"python(3(\.[0-9]+)?)?(\.exe)?", re.IGNORECASE)
_PIP = re.compile(r"pip(3(\.[0-9]+)?)?(\.exe)?", re.IGNORECASE)
_GIT = {"status": GIT_STATUS, "diff": GIT_DIFF, "log": GIT_LOG}
_PIP_SUB = {"list": PIP_LIST, "show": PIP_SHOW, "download": PIP_DOWNLOAD}


@dataclass(frozen=True)
class Family:
    """The spec an entry names, how many of its words name the command, and whether the
    command runs as `python -m <module>` (which then gets `-I`: the workspace, its current
    directory, must not shadow the module)."""

    spec: CommandSpec
    length: int
    module: bool


def _program(word: str) -> str:
    return Path(word.replace("\\", "/")).name


def family_of(entry: Sequence[str]) -> Family | None:
    """The command family an allowlist entry's argv names, or None (then: exactly the entry)."""
    if not entry:
        return None
    program = _program(entry[0])
    words = list(entry[1:])
    if program.lower() in ("git", "git.exe"):
        spec = _GIT.get(words[0]) if words else None
        return Family(spec, 2, False) if spec else None
    if program.lower() in ("pytest", "pytest.exe"):
        return Family(PYTEST, 1, False)
    module = False
    if _PYTHON.fullmatch(program) and words[:1] == ["-m"] and len(words) > 1:
        program, words, module = words[1], words[2:], True
        if program == "pytest":
            return Family(PYTEST, 3, False)  # runs the workspace's tests by design
    if _PIP.fullmatch(program) and words:
        spec = _PIP_SUB.get(words[0])
        if spec is not None:
            return Family(spec, 4 if module else 2, module)
    return None


def is_pip(argv: Sequence[str]) -> bool:
    """True when argv runs pip: `pip ...`, `pip3 ...` or `python [-I] -m pip ...`."""
    if not argv:
        return False
    program = _program(argv[0])
    if _PIP.fullmatch(program):
        return True
    rest = [w for w in argv[1:4] if w != "-I"]
    return bool(_PYTHON.fullmatch(program)) and rest[:2] == ["-m", "pip"]
