"""Text-only file rules (SPEC §4.2), shared by `filesystem_*` tools and the node server.

Reads refuse binary files (a NUL in the first 8 KiB) and files over the cap; writes refuse
content with NUL, refuse to overwrite a binary file, and are atomic (temp file + rename) so
a crash never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError, NotFoundError, ToolFailure

SNIFF_BYTES = 8192
DEFAULT_READ_CAP = 1_000_000


def is_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\x00" in handle.read(SNIFF_BYTES)


def read_text(path: Path, max_bytes: int = DEFAULT_READ_CAP, *, shown: str = "") -> tuple[str, int]:
    """Return (text, size) of a text file; refuse binaries, directories and oversize files."""
    shown = shown or str(path)
    if not path.exists():
        raise NotFoundError(f"path: {shown} does not exist")
    if not path.is_file():
        raise InputError(f"path: {shown} is not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"path: {shown} is {size} bytes, over the {max_bytes}-byte cap (max_bytes)"
        )
    if is_binary(path):
        raise InputError(f"path: {shown} is a binary file; only text files can be read")
    data = path.read_bytes()
    return data.decode("utf-8", errors="replace"), size


@dataclass(frozen=True)
class WriteOutcome:
    bytes_written: int
    created: bool


def write_text_atomic(
    path: Path, content: str, *, create_dirs: bool = False, shown: str = ""
) -> WriteOutcome:
    """Write text atomically: temp file in the same directory, fsync, then rename."""
    shown = shown or str(path)
    if "\x00" in content:
        raise InputError("content: must not contain NUL bytes (text only)")
    if path.is_dir():
        raise InputError(f"path: {shown} is a directory")
    existed = path.exists()
    if existed and is_binary(path):
        raise InputError(f"path: {shown} is a binary file; refusing to overwrite it")
    parent = path.parent
    if not parent.is_dir():
        if not create_dirs:
            raise NotFoundError(f"path: directory of {shown} does not exist (set create_dirs)")
        parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if existed:
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ToolFailure(f"path: cannot write {shown}: {err.strerror or err}") from err
    return WriteOutcome(bytes_written=len(data), created=not existed)
