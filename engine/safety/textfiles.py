"""Confined text files (docs/security.md, promises 2 and 3), shared by the `filesystem_*`
tools and the node server: `confined_read` and `confined_write` are the only way either
touches a file.

Both confine the path (`engine.safety.paths.confine`), then open it one component at a
time without following links (`engine.safety.nofollow`), and check the *opened* file: a
regular file, not one of the console's own files by identity (a hard link to `.env`).
Reads refuse binary files (a NUL in the first 8 KiB) and files over the cap. Writes refuse
`.git` anywhere, content with NUL, overwriting a binary file and rewriting an executable
file (the content would run as a program); they are atomic (a temp file created next to
the target, then renamed over it), and the new file is always `0o644`-or-less, never
executable whatever the umask or the old file's mode. Renaming also means a hard link's
other names keep their old content: a write never reaches through a link. Content that
starts with `#!` is not refused: without an exec bit a shebang does nothing, and an
interpreter runs a file whatever its first line says.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import (
    ConfinementError,
    EngineError,
    InputError,
    MissingDirectory,
    NotFoundError,
    ToolFailure,
)
from engine.safety.nofollow import (
    Directory,
    link_refusal,
    open_directory,
    os_failure,
)
from engine.safety.paths import ConfinedPath, confine
from engine.safety.protected import ProtectedPaths

SNIFF_BYTES = 8192
DEFAULT_READ_CAP = 1_000_000
NEW_FILE_MODE = 0o644
_EXEC_BITS = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not hang the read
_NOTHING = ProtectedPaths()


@dataclass(frozen=True)
class ReadOutcome:
    path: str  # workspace-relative
    content: str
    size: int


@dataclass(frozen=True)
class WriteOutcome:
    path: str  # workspace-relative
    bytes_written: int
    created: bool


def confined_read(
    root: Path,
    raw: str,
    max_bytes: int = DEFAULT_READ_CAP,
    *,
    protected: ProtectedPaths = _NOTHING,
    field: str = "path",
) -> ReadOutcome:
    """Read the text file `raw` inside `root`; refuse binaries, non-files, oversize files."""
    target = confine(root, raw, field=field, protected=protected)
    shown = target.shown
    if not target.parts:
        raise InputError(f"{field}: {shown} is not a regular file")
    with _parent(target, missing=f"{field}: {shown} does not exist") as parent:
        fd = _open_existing(parent, target, _READ_FLAGS)
        if fd is None:
            raise NotFoundError(f"{field}: {shown} does not exist")
        with _closing(fd):
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise InputError(f"{field}: {shown} is not a regular file")
            protected.check_stat(st, field=field, shown=raw)
            if st.st_size > max_bytes:
                raise InputError(
                    f"{field}: {shown} is {st.st_size} bytes, over the {max_bytes}-byte cap "
                    "(max_bytes)"
                )
            data = _read_at_most(fd, max_bytes + 1)
    if len(data) > max_bytes:  # it grew while being read
        raise InputError(f"{field}: {shown} is over the {max_bytes}-byte cap (max_bytes)")
    if b"\x00" in data[:SNIFF_BYTES]:
        raise InputError(f"{field}: {shown} is a binary file; only text files can be read")
    return ReadOutcome(shown, data.decode("utf-8", errors="replace"), len(data))


def confined_write(
    root: Path,
    raw: str,
    content: str,
    *,
    create_dirs: bool = False,
    protected: ProtectedPaths = _NOTHING,
    field: str = "path",
    dry_run: bool = False,
) -> WriteOutcome:
    """Write `content` to `raw` inside `root` atomically, or with `dry_run` check everything
    a write would and report what it would do, changing nothing."""
    if "\x00" in content:
        raise InputError("content: must not contain NUL bytes (text only)")
    target = confine(root, raw, field=field, allow_git_dir=False, protected=protected)
    shown = target.shown
    if not target.parts:
        raise InputError(f"{field}: {shown} is a directory")
    data = content.encode("utf-8")
    missing = f"{field}: directory of {shown} does not exist (set create_dirs)"
    try:
        with _parent(target, missing=missing, create=create_dirs and not dry_run) as parent:
            mode = _existing_mode(parent, target, protected)
            if not dry_run:
                _replace(parent, target, data, NEW_FILE_MODE if mode is None else mode)
    except MissingDirectory:
        if not (dry_run and create_dirs):
            raise
        mode = None  # a dry run: the directories would be created, then the file
    return WriteOutcome(shown, len(data), created=mode is None)


def precheck_write(
    root: Path, raw: str, *, protected: ProtectedPaths = _NOTHING, field: str = "path"
) -> ConfinedPath:
    """The cheap part of `confined_write`'s refusals, for a tool's check before approval:
    confinement, `.git`, protected files by name and identity, an executable target.
    `confined_write` repeats all of it on the file it actually opens."""
    target = confine(root, raw, field=field, allow_git_dir=False, protected=protected)
    try:
        st = os.stat(target.path)
    except OSError:
        return target
    if stat.S_ISREG(st.st_mode):
        protected.check_stat(st, field=field, shown=raw)
        if st.st_mode & _EXEC_BITS:
            raise _executable(field, target.shown)
    return target


def _executable(field: str, shown: str) -> InputError:
    return InputError(
        f"{field}: {shown} is executable; refusing to rewrite it "
        "(its new content would run as a program)"
    )


@contextlib.contextmanager
def _closing(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _parent(
    target: ConfinedPath, *, missing: str, create: bool = False
) -> contextlib.AbstractContextManager[Directory]:
    return open_directory(
        target.root,
        target.parts[:-1],
        field=target.field,
        raw=target.raw,
        create=create,
        missing=missing,
    )


def _open_existing(parent: Directory, target: ConfinedPath, flags: int) -> int | None:
    """An fd of the last component (never through a link), or None when it is missing."""
    name = target.parts[-1]
    try:
        return parent.open(name, flags)
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EMLINK) or _is_link(parent, name):
            raise link_refusal(target.field, target.raw, target.shown) from err
        if isinstance(err, IsADirectoryError):
            raise InputError(
                f"{target.field}: {target.shown} is a directory, not a regular file"
            ) from err
        raise os_failure(target.field, target.shown, err) from err


def _is_link(parent: Directory, name: str) -> bool:
    try:
        return stat.S_ISLNK(parent.lstat(name).st_mode)
    except OSError:
        return False


def _existing_mode(
    parent: Directory, target: ConfinedPath, protected: ProtectedPaths
) -> int | None:
    """The mode the rewritten file keeps (None: it does not exist yet), after refusing what
    must not be rewritten."""
    field, shown = target.field, target.shown
    fd = _open_existing(parent, target, _READ_FLAGS)
    if fd is None:
        return None
    with _closing(fd):
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"{field}: {shown} is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{field}: {shown} is not a regular file")
        protected.check_stat(st, field=field, shown=target.raw)
        if st.st_mode & _EXEC_BITS:
            raise _executable(field, shown)
        if b"\x00" in _read_at_most(fd, SNIFF_BYTES):
            raise InputError(f"{field}: {shown} is a binary file; refusing to overwrite it")
    return stat.S_IMODE(st.st_mode) & 0o666


def _replace(parent: Directory, target: ConfinedPath, data: bytes, mode: int) -> None:
    """Temp file beside the target (exclusive create, never through a link), fsync, rename."""
    tmp = f".daena-{secrets.token_hex(8)}.tmp"
    try:
        fd = parent.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as err:
        raise _write_failure(target, err) from err
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)  # exactly this mode: no umask, no inherited exec bit
            handle.write(data)
            handle.flush()
            os.fsync(fd)
        parent.replace(tmp, target.parts[-1])
    except OSError as err:
        with contextlib.suppress(OSError):
            parent.unlink(tmp)
        raise _write_failure(target, err) from err
    parent.fsync()


# The directory changed under the write: a link appeared or the temp file's path went away.
_CHANGED = {errno.ELOOP, errno.EMLINK, errno.ENOTDIR, errno.ENOENT}


def _write_failure(target: ConfinedPath, err: OSError) -> EngineError:
    if isinstance(err, IsADirectoryError):
        return InputError(f"{target.field}: {target.shown} is a directory")
    if err.errno in _CHANGED:
        return ConfinementError(
            f"{target.field}: {target.raw!r} changed while it was being written (a directory "
            "became a link or went away); refused, nothing was written outside the workspace"
        )
    return ToolFailure(f"{target.field}: cannot write {target.shown}: {err.strerror or err}")
