"""Open a confined path one component at a time, never following a link (promise 2).

`resolve_in_workspace` decides *which* path a tool may use; this module makes sure the
file actually opened is that path, even when the tree changes in between (a directory
swapped for a symlink to `/home/me/.ssh` after the check). On POSIX every component is
opened relative to its parent's directory fd with `O_NOFOLLOW`, starting from the
workspace root, so a link that appears later fails the open (`ELOOP`/`ENOTDIR`) instead of
being followed. Windows has no `dir_fd`: there each opened handle is checked against the
path the OS reports for it (see `CheckedDirectory`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from engine.errors import ConfinementError, MissingDirectory, NotFoundError, ToolFailure

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
NOFOLLOW_SUPPORTED = (
    hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
    and {os.open, os.stat, os.mkdir, os.rename, os.unlink} <= os.supports_dir_fd
)
_LINK_ERRNOS = {errno.ELOOP, errno.ENOTDIR, errno.EMLINK}


class Directory(Protocol):
    """An opened directory inside the workspace; names are single path components."""

    where: str  # workspace-relative, for messages

    def open(self, name: str, flags: int, mode: int = 0o600) -> int: ...
    def lstat(self, name: str) -> os.stat_result: ...
    def mkdir(self, name: str) -> None: ...
    def child(self, name: str) -> Directory: ...
    def replace(self, src: str, dst: str) -> None: ...
    def unlink(self, name: str) -> None: ...
    def fsync(self) -> None: ...
    def close(self) -> None: ...


class FdDirectory:
    """POSIX: a directory fd; every operation is relative to it and follows no link."""

    def __init__(self, fd: int, where: str) -> None:
        self.fd = fd
        self.where = where

    def open(self, name: str, flags: int, mode: int = 0o600) -> int:
        return os.open(name, flags | os.O_NOFOLLOW | _CLOEXEC, mode, dir_fd=self.fd)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def mkdir(self, name: str) -> None:
        os.mkdir(name, 0o755, dir_fd=self.fd)

    def child(self, name: str) -> FdDirectory:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC, dir_fd=self.fd)
        return FdDirectory(fd, _join(self.where, name))

    def replace(self, src: str, dst: str) -> None:
        os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        os.unlink(name, dir_fd=self.fd)

    def fsync(self) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


class CheckedDirectory:
    """Fallback without `dir_fd` (Windows): paths, and every opened handle checked after
    the fact by asking the OS where the handle really is (`GetFinalPathNameByHandleW`;
    `/proc/self/fd` or `F_GETPATH` elsewhere): that answer involves no name lookup, so a
    link flipped in and out around the open cannot fool it. A handle anywhere but exactly
    the expected path is closed and refused (a temp file it created is removed again).
    The rename that publishes a write is by path; a swap at that moment makes it miss (the
    temp file's random name exists only in the real directory), so it fails, it does not
    land outside. Where the OS cannot name a handle, the check falls back to comparing
    `realpath` and the handle's `st_dev`/`st_ino` with the file at that path (racy against
    a link flipped back and forth; no such platform is supported).
    """

    def __init__(self, path: Path, where: str) -> None:
        self.path = path
        self.where = where

    def _verify_path(self, target: Path) -> None:
        try:
            if _same_path(os.path.realpath(target), target):
                return
        except OSError:  # realpath meeting a link that turned back into a directory
            pass
        raise OSError(errno.ELOOP, "a link appeared on the path", str(target))

    def _verify_handle(self, target: Path, fd: int) -> None:
        actual = handle_path(fd)
        if actual is not None:
            if not _same_path(actual, target):
                raise OSError(errno.ELOOP, "the path led elsewhere when opened", str(target))
            return
        self._verify_path(target)
        opened, there = os.fstat(fd), os.stat(target)
        if (opened.st_dev, opened.st_ino) != (there.st_dev, there.st_ino):
            raise OSError(errno.ELOOP, "the path changed while it was opened", str(target))

    def open(self, name: str, flags: int, mode: int = 0o600) -> int:
        target = self.path / name
        self._verify_path(target.parent)
        if not flags & os.O_CREAT:
            mode_now = self.lstat(name).st_mode
            if stat.S_ISLNK(mode_now):
                raise OSError(errno.ELOOP, "is a link", str(target))
            if stat.S_ISDIR(mode_now):  # Windows cannot open a directory as a file
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(target))
        fd = os.open(target, flags | _BINARY | _CLOEXEC, mode)
        try:
            self._verify_handle(target, fd)
        except OSError:
            stray = handle_path(fd) if flags & os.O_CREAT else None
            os.close(fd)
            if stray is not None:  # our own new, empty file, wherever it landed
                with contextlib.suppress(OSError):
                    os.unlink(stray)
            raise
        return fd

    def lstat(self, name: str) -> os.stat_result:
        return os.lstat(self.path / name)

    def mkdir(self, name: str) -> None:
        self._verify_path(self.path)
        os.mkdir(self.path / name, 0o755)

    def child(self, name: str) -> CheckedDirectory:
        target = self.path / name
        if stat.S_ISLNK(os.lstat(target).st_mode):
            raise OSError(errno.ELOOP, "is a link", str(target))
        if not target.is_dir():
            raise OSError(errno.ENOTDIR, "not a directory", str(target))
        self._verify_path(target)
        return CheckedDirectory(target, _join(self.where, name))

    def replace(self, src: str, dst: str) -> None:
        self._verify_path(self.path)
        os.replace(self.path / src, self.path / dst)

    def unlink(self, name: str) -> None:
        os.unlink(self.path / name)

    def fsync(self) -> None:
        return None

    def close(self) -> None:
        return None


def _same_path(actual: str, expected: Path) -> bool:
    return os.path.normcase(actual) == os.path.normcase(str(expected))


def handle_path(fd: int) -> str | None:
    """Where the OS says the open file `fd` is (no name lookup), or None if it cannot say."""
    if sys.platform == "win32":
        import ctypes
        import msvcrt
        from ctypes import wintypes

        final_path = ctypes.windll.kernel32.GetFinalPathNameByHandleW
        final_path.argtypes = [wintypes.HANDLE, wintypes.LPWSTR, wintypes.DWORD, wintypes.DWORD]
        final_path.restype = wintypes.DWORD
        buffer = ctypes.create_unicode_buffer(32768)
        size = final_path(msvcrt.get_osfhandle(fd), buffer, len(buffer), 0)
        if not 0 < size < len(buffer):
            return None
        found = buffer.value
        if found.startswith("\\\\?\\UNC\\"):
            return "\\\\" + found[8:]
        return found.removeprefix("\\\\?\\")
    try:
        found = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        get_path = getattr(fcntl, "F_GETPATH", None) if fcntl is not None else None
        if get_path is None:
            return None
        try:
            raw = fcntl.fcntl(fd, get_path, bytes(1024))
        except OSError:
            return None
        return os.fsdecode(raw.split(b"\0", 1)[0])
    return found if found.startswith("/") else None


def _join(where: str, name: str) -> str:
    return name if where == "." else f"{where}/{name}"


def open_root(root: Path) -> Directory:
    """The workspace root itself (the operator's setting, so links above it are fine)."""
    if NOFOLLOW_SUPPORTED:
        return FdDirectory(os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC), ".")
    return CheckedDirectory(root, ".")


def link_refusal(field: str, raw: str, where: str) -> ConfinementError:
    return ConfinementError(
        f"{field}: {raw!r} changed while it was being opened ({where!r} became a link); "
        "refused, nothing outside the workspace is followed"
    )


def os_failure(field: str, shown: str, err: OSError) -> ToolFailure:
    return ToolFailure(f"{field}: cannot open {shown}: {err.strerror or err}")


@contextlib.contextmanager
def open_directory(
    root: Path,
    parts: tuple[str, ...],
    *,
    field: str,
    raw: str,
    create: bool = False,
    missing: str = "",
) -> Iterator[Directory]:
    """The directory `root/parts...`, walked from the root without following links.

    A missing component is created when `create` (0o755, relative to its parent), else it
    raises `NotFoundError(missing)`. A component that is now a link raises
    `ConfinementError`; one that is a file raises `NotFoundError` ("is not a directory").
    """
    current = open_root(root)
    try:
        for name in parts:
            try:
                nxt = current.child(name)
            except FileNotFoundError:
                if not create:
                    where = _join(current.where, name)
                    raise MissingDirectory(
                        missing or f"{field}: {where!r} does not exist"
                    ) from None
                try:
                    current.mkdir(name)
                except FileExistsError:
                    pass
                except OSError as err:
                    raise os_failure(field, _join(current.where, name), err) from err
                nxt = _child_or_refuse(current, name, field, raw, missing)
            except OSError as err:
                raise _classify(current, name, err, field, raw, missing) from err
            current.close()
            current = nxt
        yield current
    finally:
        current.close()


def _child_or_refuse(
    current: Directory, name: str, field: str, raw: str, missing: str
) -> Directory:
    try:
        return current.child(name)
    except OSError as err:
        raise _classify(current, name, err, field, raw, missing) from err


def _classify(
    current: Directory, name: str, err: OSError, field: str, raw: str, missing: str
) -> Exception:
    """A link where a directory was expected is a refusal; a file there means not found."""
    where = _join(current.where, name)
    if err.errno in _LINK_ERRNOS:
        try:
            is_link = stat.S_ISLNK(current.lstat(name).st_mode)
        except OSError:
            is_link = False
        if is_link or err.errno == errno.ELOOP:
            return link_refusal(field, raw, where)
        return NotFoundError(f"{field}: {where!r} is not a directory")
    if isinstance(err, FileNotFoundError):
        return MissingDirectory(missing or f"{field}: {where!r} does not exist")
    return os_failure(field, where, err)
