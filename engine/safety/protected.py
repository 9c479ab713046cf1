"""The console's own files, kept out of every tool's reach (security promise 3).

Under the zero-config defaults the workspace is the current directory, which is also where
`.env` (with `EXECUTION_TOKEN`) is read. An agent that could read it would own the API; one
that could write it, the settings file or the database would rewrite policy. So every tool
path is checked against this set, on the engine and on the node, for reads and writes alike.

A path is protected when it *is* one of these files (by resolved path, case-folded so a
case-insensitive file system cannot be fooled by `.ENV`, and with the last name read as
NTFS reads it, so `.env.` or `.env::$DATA` is `.env`), when it is named after the database
in the database's directory (`daena.db-wal`, `-shm`, `-journal`, the audit head's
`.audit-key`, whatever SQLite or the engine adds next), when it lies inside a protected
directory, or when the file opened is one of them under another name (same device and
inode: a hard link).
"""

from __future__ import annotations

import contextlib
import functools
import os
import site
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audit_head import key_path as audit_key_path
from engine.defaults import config_dirs
from engine.errors import ConfinementError
from engine.settings import env_file_of

# Files next to an SQLite database that hold (part of) its content.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
ENV_FILE_NAME = ".env"


def _key(path: Path) -> str:
    """Comparison form: case-folded, and the last name as NTFS reads it (`.env.`, `.env ` and
    `.env::$DATA` all open `.env` there)."""
    name = path.name.split(":", 1)[0].rstrip(". ") if path.name else ""
    whole = path.with_name(name) if name and name != path.name else path
    return os.path.normcase(str(whole)).casefold()


def _absolute(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):
        return path.expanduser().absolute()


@dataclass(frozen=True)
class ProtectedPaths:
    """Files and directories no tool may read, write, list or delete."""

    files: frozenset[Path] = frozenset()
    directories: frozenset[Path] = frozenset()
    # Files whose name starts with one of these names, in the same directory (a database).
    families: frozenset[Path] = frozenset()
    # Directories no tool may *write* (reading them is harmless): the console's own program
    # and the Python environment it runs in, where a `.pth` file or a changed module would
    # run the next time the console (or any tool's Python) starts.
    code: frozenset[Path] = frozenset()
    _file_keys: frozenset[str] = field(default=frozenset(), repr=False)
    _dir_keys: tuple[str, ...] = field(default=(), repr=False)
    _family_keys: tuple[str, ...] = field(default=(), repr=False)
    _code_keys: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def of(
        cls,
        files: Iterable[Path],
        directories: Iterable[Path] = (),
        families: Iterable[Path] = (),
        code: Iterable[Path] = (),
    ) -> ProtectedPaths:
        fam = frozenset(_absolute(p) for p in families)
        f = frozenset(_absolute(p) for p in files) | fam
        d = frozenset(_absolute(p) for p in directories)
        c = frozenset(_absolute(p) for p in code)
        return cls(
            f,
            d,
            fam,
            c,
            frozenset(_key(p) for p in f),
            tuple(_key(p) for p in d),
            tuple(_key(p) for p in fam),
            tuple(_key(p) for p in c),
        )

    def covers(self, path: Path, *, writing: bool = False) -> bool:
        """True when `path` (absolute, already resolved) is protected; with `writing`, the
        console's program and Python environment count too."""
        key = _key(path)
        if key in self._file_keys:
            return True
        if any(_within(key, d) for d in self._dir_keys):
            return True
        if writing and any(_within(key, c) for c in self._code_keys):
            return True
        if any(key.startswith(f) for f in self._family_keys):
            return True
        return self._same_inode(path)

    def _same_inode(self, path: Path) -> bool:
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return False
        return self.covers_stat(st)

    def covers_stat(self, st: os.stat_result) -> bool:
        """True when `st` (of an opened file) is one of the protected files under another
        name: a hard link, or a path swapped after the name check."""
        if not st.st_ino:
            return False  # no identity on this file system; names decide
        return any(
            (ost.st_dev, ost.st_ino) == (st.st_dev, st.st_ino)
            for ost in self._identities(with_families=st.st_nlink > 1)
        )

    def _identities(self, *, with_families: bool) -> Iterator[os.stat_result]:
        for other in self.files:
            with contextlib.suppress(OSError):
                yield os.stat(other)
        if not with_families:
            return
        for family in self.families:
            with contextlib.suppress(OSError), os.scandir(family.parent) as entries:
                prefix = _key(family)
                for entry in entries:
                    if _key(Path(entry.path)).startswith(prefix):
                        with contextlib.suppress(OSError):
                            yield entry.stat(follow_symlinks=False)

    def inside(self, directory: Path) -> list[Path]:
        """Protected files and directories at or below `directory` (for listings)."""
        base = _key(directory).rstrip(os.sep) + os.sep
        return sorted(p for p in self.files | self.directories if _key(p).startswith(base))

    def check(
        self, path: Path, *, field: str = "path", shown: str = "", writing: bool = False
    ) -> None:
        """Raise `ConfinementError` naming the field when `path` is protected (for a writer,
        pass `writing=True`)."""
        if self.covers(path, writing=writing):
            raise refusal(field, shown or path.name)

    def check_stat(self, st: os.stat_result, *, field: str = "path", shown: str = "") -> None:
        """Raise `ConfinementError` when the opened file `st` is a protected file."""
        if self.covers_stat(st):
            raise refusal(field, shown)


def refusal(field: str, shown: str) -> ConfinementError:
    return ConfinementError(
        f"{field}: {shown!r} is one of the console's own files "
        "(settings, secrets, database or program); no tool may read or change it"
    )


def _within(key: str, directory: str) -> bool:
    return key == directory or key.startswith(directory.rstrip(os.sep) + os.sep)


# Settings naming files or directories the engine loads (models are pickles: code).
_LOADED_PATH_SETTINGS = (
    "models_root",
    "ollama_models",
    "xtts_model_path",
    "xtts_speaker_wav",
    "daena_voice_wav",
    "daena_playbooks_dir",
)
# The console's own packages, beside `engine`.
_OWN_PACKAGES = ("engine", "daena_tui", "node_server")


@functools.cache
def program_directories() -> tuple[Path, ...]:
    """The console's own source and the Python environment it runs in (when that is a
    virtual environment or its site-packages): writing there is running code later."""
    source = Path(__file__).resolve().parent.parent.parent
    dirs = [source / name for name in _OWN_PACKAGES]
    if sys.prefix != sys.base_prefix:  # a virtual environment: all of it is the console's
        dirs.append(Path(sys.prefix))
    dirs += [Path(p) for p in site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(Path(site.getusersitepackages()))
    return tuple(dirs)


def database_files(db_path: Path) -> list[Path]:
    """An SQLite database and the companion files that hold its data (the family rule
    covers these and any other file named after the database; listed for identity)."""
    return [db_path, *(db_path.with_name(db_path.name + s) for s in SQLITE_COMPANIONS)]


def protected_for_settings(settings: Any, *, workspace: Path | None = None) -> ProtectedPaths:
    """Everything the engine (or node server) `settings` read as configuration or secrets.

    Always included: `.env` in the current directory and in the workspace (the defaults read
    it from there), the `.env` the settings were actually built from, `DAENA_CONFIG_FILE`,
    the database and every file named after it beside it (its audit head key too), the
    engine's `config/` directory (the checkout's and the installed copy: `config_dirs`), the
    model and voice files it loads; for writers also the console's program and Python
    environment (`program_directories`).
    """
    files: list[Path] = []
    with contextlib.suppress(OSError):  # a deleted current directory holds no `.env`
        files.append(Path.cwd() / ENV_FILE_NAME)
    if workspace is not None:
        files.append(workspace / ENV_FILE_NAME)
    loaded = env_file_of(settings)
    if loaded is not None:
        files.append(loaded)
    config_file = getattr(settings, "daena_config_file", None)
    if config_file is not None:
        files.append(Path(config_file))
    db_path = getattr(settings, "daena_db_path", None)
    databases = [Path(db_path)] if db_path is not None else []
    files += [f for db in databases for f in (*database_files(db), audit_key_path(db))]
    extra_dirs = [Path(d) for d in getattr(settings, "protected_directories", ()) or ()]
    extra_dirs += [
        Path(value)
        for name in _LOADED_PATH_SETTINGS
        if (value := getattr(settings, name, None)) is not None
    ]
    return _resolved(
        tuple(files), (*config_dirs(), *extra_dirs), tuple(databases), program_directories()
    )


@functools.lru_cache(maxsize=32)
def _resolved(
    files: tuple[Path, ...],
    directories: tuple[Path, ...],
    databases: tuple[Path, ...],
    program: tuple[Path, ...],
) -> ProtectedPaths:
    """Resolving ~20 paths costs ~0.7 ms, and every run's context asks: the same names give
    the same set (identity is still checked on each opened file, by `covers_stat`)."""
    return ProtectedPaths.of(files, directories, databases, program)
