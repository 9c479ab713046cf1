"""How an allowlisted command's words are checked (docs/security.md, promises 1 and 2).

An allowlist entry names a command; an argv prefix alone would admit every option the program
has, and many of them read outside the work tree (`git diff --no-index /etc/passwd x`), write
anywhere (`git diff --output=`, pytest's `--basetemp`, `--junitxml`, `-o cache_dir=`) or start
another program (`pip --python`, pytest's `-p plugin`, git's `--ext-diff`). So every command
family the console knows has a `CommandSpec` (`engine.safety.command_specs`): the options it
may take, the kind of value each one takes, and the kind of its operands. `check_arguments`
refuses anything else with a `PolicyError` naming the word and the rule.

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
  blob.
- Where the program reads `@file` as more arguments (pytest), no word may start with `@`,
  not even an option's value (`-k @args.txt`).

Some specs add options of their own after the command name (`--no-ext-diff --no-textconv` for
git diff and log; `--only-binary=:all:` for pip download), so the effective argv, which dry
runs report, says what runs.
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
    # The program reads any word starting with this as a file of more arguments, wherever
    # it stands, even as an option's value (argparse's `fromfile_prefix_chars`: pytest).
    argfile_prefix: str = ""
    # git: the console's own files inside the workspace are excluded by pathspec, so a
    # tracked `.env` never shows in a diff, a log or a status.
    excludes_protected: bool = False
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
_REQUIREMENT = matching(f"{_NAME}({_VERSION}(,{_VERSION})*)?", "a package name[==version]")
# pip takes a requirement that ends like an archive and names a file in the current
# directory (the workspace) for that file, and builds an sdist by running its backend,
# `--only-binary` or not; an agent can write an uncompressed tar as plain text.
PIP_ARCHIVE_SUFFIXES = (".zip", ".whl", ".tar", ".tgz", ".tbz", ".txz", ".tlz", ".tar.gz",
                        ".tar.bz2", ".tar.xz", ".tar.lz", ".tar.lzma")  # fmt: skip


def _requirement(text: str, where: Where, label: str) -> None:
    _REQUIREMENT.check(text, where, label)
    if text.lower().endswith(PIP_ARCHIVE_SUFFIXES):
        raise _refuse(
            where, label, text, "ends like an archive, which pip would take for a local file"
        )


REQUIREMENT = Kind("a package name[==version]", _requirement)


def flags(*names: str) -> Opt:
    return Opt(names)


def valued(*names: str, kind: Kind, bare: bool = False, separate: bool = True) -> Opt:
    return Opt(names, kind, bare=bare, separate=separate)


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


@dataclass(frozen=True)
class Reading:
    """Where the operands stood in an admitted argv: their indices before `--`, and the
    index of `--` (None when there is none)."""

    operands: tuple[int, ...] = ()
    dashdash: int | None = None


def check_arguments(spec: CommandSpec, args: Sequence[str], where: Where) -> Reading:
    """Raise `PolicyError` (or `ConfinementError`) unless every word in `args` — what follows
    the command's name — is an option, value or operand `spec` allows; say where the
    operands were."""
    prefix = spec.argfile_prefix
    for word in args if prefix else ():
        if word.startswith(prefix):
            raise PolicyError(
                f"{where.field}: {word!r} starts with {prefix!r}, which {spec.name!r} reads "
                "as a file of more arguments, wherever it stands"
            )
    i = 0
    operands: list[int] = []
    while i < len(args):
        word = args[i]
        if word == "--":
            if spec.after_dashdash is None:
                raise PolicyError(f"{where.field}: {spec.name!r} takes no '--' and no paths")
            for rest in args[i + 1 :]:
                spec.after_dashdash.check(rest, where, "path")
            return Reading(tuple(operands), i)
        if word.startswith("-") and word != "-":
            i = _option(spec, args, i, where)
            continue
        if spec.operand is None:
            raise PolicyError(f"{where.field}: {spec.name!r} takes no operands (got {word!r})")
        spec.operand.check(word, where, "operand")
        operands.append(i)
        i += 1
    return Reading(tuple(operands))
