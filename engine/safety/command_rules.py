"""What each allowlisted command may be given (security promises 1 and 2, SPEC §4.3).

An allowlist entry names a command; an argv prefix alone would admit every option the program
has, and many of them read outside the work tree (`git diff --no-index /etc/passwd x`), write
anywhere (`git diff --output=`, pytest's `--basetemp`, `--junitxml`, `-o cache_dir=`) or start
another program (`pip --python`, pytest's `-p plugin`, git's `--ext-diff`). So every command
family the console knows has a `CommandSpec`: the options it may take, the kind of value each
one takes, and the kind of its operands. Anything else is refused with a `PolicyError` naming
the option and the rule.

Rules shared by every spec, chosen so that our reading of an argv and the program's own can
never differ:

- An option is matched by its exact, full name. Abbreviations (`--pyth` for pip's
  `--python`, `--no-ind` for git's `--no-index`) are refused, so a program's own
  unique-prefix matching never sees one.
- A value is attached (`--opt=value`, `-Ovalue`) or the next word; a separate value, and any
  operand, never starts with `-`. So every word starting with `-` is one we have matched as
  an option, which also keeps pytest's `-p` pre-scan from finding a plugin name.
- Short flags may be clustered (`-sb`) only where the program accepts it, and only flags
  that take no value.
- A path (operand, or after `--`) is confined like every tool path: inside the workspace after
  following links, no `..` component (git and pytest normalise paths by text, not by links),
  never one of the console's own files, never git pathspec magic (`:(top)`) or a `rev:path`
  blob, never an `@argsfile`.

Some specs add options of their own after the command name (`--no-ext-diff --no-textconv` for
git diff and log; `--only-binary=:all:` for pip download), so the effective argv, which dry
runs report, says what runs.

`python -m pytest` runs the workspace's own test code (`conftest.py`, test modules, plugins
its ini file names) by design: that is what the operator allows when allowlisting it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from engine.errors import PolicyError
from engine.safety.paths import resolve_in_workspace
from engine.safety.protected import ProtectedPaths


@dataclass(frozen=True)
class Where:
    """What operand checks need: the workspace, the console's own files, the error field."""

    workspace: Path
    protected: ProtectedPaths | None = None
    field: str = "command"


CheckFn = Callable[[str, Where, str], None]


@dataclass(frozen=True)
class Kind:
    """A kind of value or operand: what to call it in messages and how to check one."""

    what: str
    check: CheckFn


@dataclass(frozen=True)
class Opt:
    """An option: its names, and the kind of value it takes (None for a flag).

    `bare`: the value is optional (`--stat`, `--stat=80`); `separate`: the value may be the
    next word (`-n 3`), otherwise it must be attached (`-U3`, `--unified=3`).
    """

    names: tuple[str, ...]
    value: Kind | None = None
    bare: bool = False
    separate: bool = True


@dataclass(frozen=True)
class CommandSpec:
    """The options and operands one command family may take after its name."""

    name: str
    options: tuple[Opt, ...]
    operand: Kind | None = None
    after_dashdash: Kind | None = None
    clusters: bool = False
    numeric_count: bool = False  # git log's `-3`
    forced: tuple[str, ...] = ()
    dangers: dict[str, str] = field(default_factory=dict)
    _by_name: dict[str, Opt] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for opt in self.options:
            for name in opt.names:
                self._by_name[name] = opt

    def option(self, name: str) -> Opt | None:
        return self._by_name.get(name)


# --- kinds ---------------------------------------------------------------------------------


def _refuse(where: Where, label: str, text: str, rule: str) -> PolicyError:
    return PolicyError(f"{where.field}: {label} {text!r} {rule}")


def matching(pattern: str, what: str) -> Kind:
    compiled = re.compile(pattern)

    def check(text: str, where: Where, label: str) -> None:
        if not compiled.fullmatch(text):
            raise _refuse(where, label, text, f"is not {what}")

    return Kind(what, check)


def choice(*values: str) -> Kind:
    what = "one of " + ", ".join(values)

    def check(text: str, where: Where, label: str) -> None:
        if text not in values:
            raise _refuse(where, label, text, f"is not {what}")

    return Kind(what, check)


def _text(text: str, where: Where, label: str) -> None:
    if not text or len(text) > 200:
        raise _refuse(where, label, text, "must be 1 to 200 characters")
    if text.startswith("-"):
        raise _refuse(where, label, text, "must not start with '-'")


def confine(text: str, where: Where, label: str) -> Path:
    """A path operand: inside the workspace, no `..`, not a console file; returns it resolved."""
    if text.startswith("-"):
        raise _refuse(where, label, text, "must not start with '-'")
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        raise _refuse(where, label, text, "must not contain a '..' component")
    path = resolve_in_workspace(where.workspace, text, field=where.field)
    if where.protected is not None:
        where.protected.check(path, field=where.field, shown=text)
    return path


def _git_path(text: str, where: Where, label: str) -> None:
    # Also what a revision operand is checked as: git takes a word it cannot resolve as a
    # revision for a path, so every operand must be a safe path too.
    if ":" in text:
        raise _refuse(
            where, label, text, "must not contain ':' (pathspec magic or a rev:path blob)"
        )
    confine(text, where, label)


def _git_format(text: str, where: Where, label: str) -> None:
    _text(text, where, label)
    if "%G" in text:
        raise _refuse(where, label, text, "must not use %G placeholders (they run gpg)")


def _test_path(text: str, where: Where, label: str) -> None:
    if text.startswith("@"):
        raise _refuse(where, label, text, "must not start with '@' (pytest reads it as a file)")
    path, sep, node = text.partition("::")
    if sep and not re.fullmatch(r"[A-Za-z0-9_.:-]+", node):
        raise _refuse(where, label, text, "has a test name that is not a plain identifier")
    confine(path, where, label)


NUMBER = matching(r"[0-9]{1,9}", "a number")
TEXT = Kind("text not starting with '-'", _text)
GIT_PATH = Kind("a path inside the workspace", _git_path)
GIT_REV_OR_PATH = Kind("a revision or a path inside the workspace", _git_path)
GIT_FORMAT = Kind("a format without %G", _git_format)
TEST_PATH = Kind("a test path (or path::test) inside the workspace", _test_path)
_NAME = r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?"
PACKAGE = matching(_NAME, "a package name")
_VERSION = r"(==|!=|~=|===)[A-Za-z0-9.*+!_-]+"
REQUIREMENT = matching(f"{_NAME}({_VERSION}(,{_VERSION})*)?", "a package name[==version]")


def flags(*names: str) -> Opt:
    return Opt(names)


def valued(*names: str, kind: Kind, bare: bool = False, separate: bool = True) -> Opt:
    return Opt(names, kind, bare=bare, separate=separate)


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


# --- checking the words after the command ---------------------------------------------------------


def _unknown(spec: CommandSpec, name: str, where: Where) -> PolicyError:
    reason = spec.dangers.get(name)
    if reason:
        detail = f" ({reason})"
    elif name.startswith("--") and any(
        known.startswith(name) for known in [*spec._by_name, *spec.dangers]
    ):
        detail = " (abbreviations are refused: write the option in full)"
    else:
        detail = ""
    return PolicyError(
        f"{where.field}: option {name!r} is not one {spec.name!r} may take here{detail}; "
        "only known read-only options are allowed"
    )


def _value(spec: CommandSpec, opt: Opt, name: str, value: str, where: Where) -> None:
    assert opt.value is not None
    opt.value.check(value, where, f"the value of {name}")


def _option(spec: CommandSpec, args: Sequence[str], i: int, where: Where) -> int:
    """Check the option at args[i]; return the index of the next unread word."""
    word = args[i]
    i += 1
    if word.startswith("--"):
        name, eq, value = word.partition("=")
        opt = spec.option(name)
        attached = bool(eq)
    else:
        name, value, attached = word, "", False
        opt = spec.option(word)
        if opt is None:
            if spec.numeric_count and word[1:].isdigit() and len(word) <= 10:
                return i
            name = word[:2]
            opt = spec.option(name)
            if opt is not None and opt.value is not None:
                value, attached = word[2:], True
                if value.startswith("="):
                    raise PolicyError(
                        f"{where.field}: write {name}VALUE or {name} VALUE, not {word!r}"
                    )
            elif spec.clusters and all(
                (o := spec.option("-" + c)) is not None and o.value is None for c in word[1:]
            ):
                return i
            else:
                name, opt = word, None
    if opt is None:
        raise _unknown(spec, name, where)
    if opt.value is None:
        if attached:
            raise PolicyError(f"{where.field}: option {name!r} takes no value")
        return i
    if attached:
        _value(spec, opt, name, value, where)
        return i
    if opt.bare:
        return i
    if not opt.separate:
        form = f"{name}=VALUE" if name.startswith("--") else f"{name}VALUE"
        raise PolicyError(f"{where.field}: option {name!r} needs its value attached ({form})")
    if i >= len(args):
        raise PolicyError(f"{where.field}: option {name!r} needs a value ({opt.value.what})")
    value = args[i]
    if value.startswith("-"):
        raise PolicyError(
            f"{where.field}: the value of {name} must not start with '-' (got {value!r})"
        )
    _value(spec, opt, name, value, where)
    return i + 1


def check_arguments(spec: CommandSpec, args: Sequence[str], where: Where) -> None:
    """Raise `PolicyError` (or `ConfinementError`) unless every word in `args` — what follows
    the command's name — is an option, value or operand `spec` allows."""
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            if spec.after_dashdash is None:
                raise PolicyError(f"{where.field}: {spec.name!r} takes no '--' and no paths")
            for rest in args[i + 1 :]:
                spec.after_dashdash.check(rest, where, "path")
            return
        if word.startswith("-") and word != "-":
            i = _option(spec, args, i, where)
            continue
        if spec.operand is None:
            raise PolicyError(f"{where.field}: {spec.name!r} takes no operands (got {word!r})")
        spec.operand.check(word, where, "operand")
        i += 1
