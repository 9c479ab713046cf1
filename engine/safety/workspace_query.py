"""Listing and searching a confined directory: the work behind `filesystem_list`,
`workspace_search` and the node server's `file_list_workspace` / `workspace_search`, in
one place so the engine and the node cannot drift.

Files and directories come from `engine.safety.workspace_walk` (no link followed, no
`.git`, none of the console's own files, `.gitignore` honoured); each file is opened
relative to its directory without following links, and binary (a NUL in the first 8 KiB)
or oversize files are skipped and counted. Regular expressions are RE2 (`google-re2`):
matching takes linear time whatever the pattern, so an agent's `(a+)+$` cannot pin a core
for the tool's whole timeout and beyond (a Python thread cannot be stopped). Results are
capped; matches past the cap are still counted and reported as `more`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import re2

from engine.errors import InputError
from engine.protocol import MAX_WALK_DEPTH, FileListArgs, WorkspaceSearchArgs
from engine.safety.nofollow import Directory
from engine.safety.protected import ProtectedPaths
from engine.safety.workspace_walk import READ_FLAGS, Walk, WalkOptions

if TYPE_CHECKING:
    import pathspec  # imported where used: a catalogue build does not need it

SNIFF_BYTES = 8192
LINE_CHARS = 400  # a minified file's one line must not fill the result


def glob_spec(glob: str | None, field: str = "glob") -> pathspec.PathSpec[Any] | None:
    import pathspec

    if glob is None:
        return None
    if "\x00" in glob or "\n" in glob or "\r" in glob:
        raise InputError(f"{field}: must be one pattern on one line, without NUL")
    try:
        return pathspec.PathSpec.from_lines("gitignore", [glob])
    except (ValueError, TypeError) as err:
        raise InputError(f"{field}: {glob!r} is not a valid pattern: {err}") from err


def list_directory(
    root: Path, args: FileListArgs, protected: ProtectedPaths, field: str = "path"
) -> dict[str, Any]:
    """The listing as a JSON-able dict (shared with the node server)."""
    spec = glob_spec(args.glob)
    depth = args.max_depth if args.recursive else 1
    walk = Walk(
        root,
        args.path,
        WalkOptions(max_depth=depth, gitignore=args.gitignore),
        protected=protected,
        field=field,
    )
    entries: list[dict[str, Any]] = []
    truncated = False
    for entry, _ in walk.entries():
        if spec is not None and not spec.match_file(
            entry.path + "/" if entry.kind == "dir" else entry.path
        ):
            continue
        if len(entries) >= args.max_entries:
            truncated = True
            break
        entries.append({"path": entry.path, "kind": entry.kind, "size": entry.size})
    out: dict[str, Any] = {
        "path": walk.target.shown,
        "entries": entries,
        "count": len(entries),
        "truncated": truncated,
    }
    if truncated:
        out["note"] = f"stopped at max_entries={args.max_entries}; narrow path or glob"
    if walk.hidden:
        out["protected_left_out"] = walk.hidden
    return out


Matcher = Callable[[str], bool]
FileMatcher = Callable[[bytes], bool]


def matcher(args: WorkspaceSearchArgs) -> tuple[FileMatcher, Matcher]:
    """(does this file's content hold a match at all, does this line match). The first looks
    at the raw bytes (RE2 reads a bytes pattern as UTF-8), so only files with a match are
    decoded."""
    if "\x00" in args.pattern:
        raise InputError("pattern: must not contain NUL")
    if not args.regex and args.case_sensitive:
        needle = args.pattern
        raw = needle.encode("utf-8")
        return (lambda data: raw in data), (lambda line: needle in line)
    source = args.pattern if args.regex else re2.escape(args.pattern)
    flags = "" if args.case_sensitive else "(?i)"
    try:
        whole = re2.compile(f"(?m){flags}{source}".encode())
        line_rx = re2.compile(f"{flags}{source}")
    except Exception as err:  # re2.error; RE2 has no lookaround or backreferences
        raise InputError(
            f"pattern: not a valid RE2 regular expression ({err}); RE2 has no lookaround "
            "or backreferences"
        ) from None
    return (lambda data: whole.search(data) is not None), (
        lambda line: line_rx.search(line) is not None
    )


@dataclass
class _Found:
    matches: list[dict[str, Any]] = field(default_factory=list)
    more: int = 0
    files_searched: int = 0
    files_matched: int = 0
    skipped_binary: int = 0
    skipped_large: int = 0


def _cut(line: str) -> str:
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + " …"


def _file_bytes(
    directory: Directory, name: str, cap: int, walk: Walk, found: _Found
) -> bytes | None:
    """The file's content, opened without following a link; None when it must be skipped."""
    try:
        fd = directory.open(name, READ_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or walk.guard.hides_stat(st):
            return None
        if st.st_size > cap:
            found.skipped_large += 1
            return None
        data = os.read(fd, cap + 1) if st.st_size else b""
        # Read on only while short of the size fstat gave (a file growing now is read as
        # far as that size; one grown past the cap is caught below).
        while len(data) < min(st.st_size, cap + 1) and (chunk := os.read(fd, cap + 1 - len(data))):
            data += chunk
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > cap:  # it grew while being read
        found.skipped_large += 1
        return None
    if b"\x00" in data[:SNIFF_BYTES]:
        found.skipped_binary += 1
        return None
    return data


def _collect(
    path: str, text: str, line_hit: Matcher, args: WorkspaceSearchArgs, found: _Found
) -> None:
    lines = text.splitlines()
    hit_any = False
    for number, line in enumerate(lines):
        if not line_hit(line):
            continue
        hit_any = True
        if len(found.matches) >= args.max_matches:
            found.more += 1
            continue
        match: dict[str, Any] = {"path": path, "line": number + 1, "text": _cut(line)}
        if args.context:
            start = max(0, number - args.context)
            match["before"] = [_cut(x) for x in lines[start:number]]
            match["after"] = [_cut(x) for x in lines[number + 1 : number + 1 + args.context]]
        found.matches.append(match)
    found.files_matched += hit_any


def search(
    root: Path, args: WorkspaceSearchArgs, protected: ProtectedPaths, field: str = "path"
) -> dict[str, Any]:
    """The search as a JSON-able dict (shared with the node server)."""
    file_hit, line_hit = matcher(args)
    spec = glob_spec(args.glob)
    walk = Walk(
        root,
        args.path,
        WalkOptions(max_depth=MAX_WALK_DEPTH, gitignore=args.gitignore),
        protected=protected,
        field=field,
    )
    found = _Found()
    for entry, directory in walk.entries():
        if entry.kind != "file" or (spec is not None and not spec.match_file(entry.path)):
            continue
        data = _file_bytes(directory, entry.name, args.max_file_bytes, walk, found)
        if data is None:
            continue
        found.files_searched += 1
        if file_hit(data):
            _collect(entry.path, data.decode("utf-8", errors="replace"), line_hit, args, found)
    out: dict[str, Any] = {
        "matches": found.matches,
        "count": len(found.matches),
        "more": found.more,
        "truncated": found.more > 0,
        "files_searched": found.files_searched,
        "files_matched": found.files_matched,
        "skipped_binary": found.skipped_binary,
        "skipped_large": found.skipped_large,
    }
    if walk.hidden:
        out["protected_left_out"] = walk.hidden
    return out
