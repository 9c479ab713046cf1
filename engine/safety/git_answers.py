"""The hardening's own git queries, answered again only when the files they read changed.

Every shell git command (a dry run too) used to start two git children before its own:
`ls-files --stage` for the index's gitlinks and `config --list` for the drivers to turn off
(engine/safety/git_hardening.py), ~10 ms each on a loaded machine. Their output depends
only on files in the repository's own git directory, as that module runs them (explicit
`GIT_DIR`, no system or global configuration, includes refused, no alternates): the index
and any split index's `sharedindex.*`, `config` and `config.worktree`. So each answer is
kept with the identity of those files (device, inode, size, mtime_ns, ctime_ns), keyed on
the git program and the git directory, and git is asked again as soon as any differs.

A file rewritten within one timestamp tick of the read could keep every one of those
(same inode, same size, same times). So, as git does for "racily clean" index entries, an
answer is kept only when each file it read was last changed, mtime and ctime, more than
`SETTLED_SEC` before the query began (longer than any filesystem's timestamp tick). Any
later change stamps a ctime after the query, and no program can set a ctime back (`utime`
sets it to now), so the identity then differs. Windows' `st_ctime` is the creation time,
so nothing is kept there. What the answers lead to (each gitlink's `.git` and where it
points, the refusals) is checked again on every command: only git's listing is kept.

A sparse index is the exception to "only those files": git lists a sparse directory by
reading its tree from `.git/objects` (a missing tree is left out, exit 0), so the listing
changes when an object arrives and no identity above moves. Nothing is kept while an index
file carries the sparse-directory extension (`sdir`; the bytes anywhere count, failing safe).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

SETTLED_SEC = 3.0
"""Files changed more recently than this before a query: its answer is not kept."""
MAX_KEPT = 64
"""Answers kept at most (two queries per repository), the least recently used dropped first."""
WATCHED = ("index", "config", "config.worktree")
SHARED_INDEX = "sharedindex."
SPARSE_DIRECTORIES = b"sdir"
"""The sparse index's extension signature (git reads no content after it, whatever its size)."""

clock: Callable[[], float] = time.time
"""The wall clock the files' times are compared with (tests move it)."""

T = TypeVar("T")
Identity = tuple[tuple[str, int, int, int, int, int] | tuple[str], ...]
_kept: OrderedDict[tuple[str, ...], tuple[Identity, Any]] = OrderedDict()
_lock = threading.Lock()


def _stamp(path: Path, name: str) -> tuple[str, int, int, int, int, int] | tuple[str]:
    try:
        st = os.stat(path / name)  # a link is refused by git_dir_of; its target would count
    except FileNotFoundError:
        return (name,)
    return (name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def identity(git_dir: Path) -> Identity:
    """The identities of the files the hardening's queries read in `git_dir`."""
    names = list(WATCHED)
    try:
        with os.scandir(git_dir) as entries:
            names += sorted(e.name for e in entries if e.name.startswith(SHARED_INDEX))
    except OSError:
        pass  # the query itself says what is wrong with the directory
    return tuple(_stamp(git_dir, name) for name in names)


def _settled(ident: Identity, began: float) -> bool:
    limit = int((began - SETTLED_SEC) * 1e9)
    return all(len(s) == 1 or max(s[4], s[5]) < limit for s in ident)


def _lists_through_objects(git_dir: Path, ident: Identity) -> bool:
    """True unless each index file stamped in `ident`, read whole and still that identity
    after the read, lacks the sparse-directory extension (git then reads no object)."""
    for stamp in ident:
        if len(stamp) == 1 or not (stamp[0] == "index" or stamp[0].startswith(SHARED_INDEX)):
            continue
        try:
            with open(git_dir / stamp[0], "rb") as handle:
                tail = b""
                while chunk := handle.read(1 << 20):
                    if SPARSE_DIRECTORIES in tail + chunk:
                        return True
                    tail = chunk[-(len(SPARSE_DIRECTORIES) - 1) :]
                st = os.fstat(handle.fileno())
        except OSError:
            return True
        if (stamp[0], st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) != stamp:
            return True  # not the file `ident` describes: keep nothing
    return False


def answer(key: tuple[str, ...], git_dir: Path, ask: Callable[[], T]) -> T:
    """`ask()`'s answer for `key` (the query, its git program and `git_dir`), from the last
    time it was asked if no file it reads has changed since. The answer is shared between
    callers: make it immutable (a tuple), as the parsed listings are."""
    if os.name == "nt":
        return ask()
    began = clock()
    before = identity(git_dir)
    with _lock:
        kept = _kept.get(key)
        if kept is not None and kept[0] == before:
            _kept.move_to_end(key)
            found: T = kept[1]
            return found
    output = ask()
    # a change during `ask` shows as a new identity next time
    keep = _settled(before, began) and not _lists_through_objects(git_dir, before)
    with _lock:
        if keep:
            _kept[key] = (before, output)
            _kept.move_to_end(key)
            while len(_kept) > MAX_KEPT:
                _kept.popitem(last=False)
        else:
            _kept.pop(key, None)
    return output


def forget() -> None:
    """Drop every kept answer (tests; nothing else needs to)."""
    with _lock:
        _kept.clear()
