"""`filesystem_edit`: replace an exact text in one file, with the approval bound to the diff.

What the operator approves must be exactly what runs. An edit's effect depends on the file
as well as on its arguments, so the arguments carry the file: `expected_sha256` (of the
content the edit was computed from) and `diff` (the resulting unified diff). The low-risk
`filesystem_edit_preview` computes both and hands back the exact arguments to request.
`filesystem_edit`'s check recomputes the diff from the file as it is *now* and refuses when
the file's hash or the diff differ, at request time (so the inbox shows the true diff) and
again when the approved run is admitted and immediately before the write (so an edit
approved for one content is never applied to another). The write is `confined_write`'s:
no link followed, no `.git`, no executable, none of the console's own files, atomic.
Between that last check and the rename a concurrent writer could still slip in; no file
system offers a compare-and-swap rename, so this is as close as the check can get.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import ChangedFile, InputError
from engine.safety.protected import ProtectedPaths
from engine.safety.textfiles import confined_read, confined_write, precheck_write
from engine.tools.spec import Risk, ToolContext, ToolSpec

MAX_FILE_BYTES = 1_000_000  # a replace_all's diff over all of it stays ~0.25 s
MAX_TEXT = 1_000_000
CONTEXT_LINES = 3


class PreviewArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="File to edit, relative to the workspace")
    old: str = Field(min_length=1, max_length=MAX_TEXT, description="Exact text to replace")
    new: str = Field(max_length=MAX_TEXT, description="Text to put in its place")
    replace_all: bool = Field(False, description="Replace every occurrence, not exactly one")


class EditArgs(PreviewArgs):
    expected_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="sha256 of the file's content the diff was computed from "
        "(filesystem_edit_preview gives it)",
    )
    diff: str = Field(
        min_length=1,
        max_length=4 * MAX_TEXT,
        description="The resulting unified diff, exactly as filesystem_edit_preview gave it",
    )


@dataclass(frozen=True)
class Planned:
    path: str
    before: str
    after: str
    sha256: str
    diff: str
    replacements: int


_HUNK_HEADER = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def unified_diff(path: str, before: str, after: str) -> str:
    """`git diff`-style text of one file's change (a missing final newline is marked).

    The lines both texts share at the start and the end (past the context) are left out of
    the comparison, so a small edit of a large file costs a scan, not a full diff: the check
    that recomputes it runs on the engine's event loop."""
    old_lines = before.splitlines(keepends=True)
    new_lines = after.splitlines(keepends=True)
    shortest = min(len(old_lines), len(new_lines))
    head = 0
    while head < shortest and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while tail < shortest - head and old_lines[-1 - tail] == new_lines[-1 - tail]:
        tail += 1
    start = max(0, head - CONTEXT_LINES)
    keep = max(0, tail - CONTEXT_LINES)
    lines: list[str] = []
    for line in difflib.unified_diff(
        old_lines[start : len(old_lines) - keep],
        new_lines[start : len(new_lines) - keep],
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
        n=CONTEXT_LINES,
    ):
        if start and (match := _HUNK_HEADER.match(line)):
            old_at, old_len, new_at, new_len = match.groups()
            line = (
                f"@@ -{int(old_at) + start}{old_len or ''} "
                f"+{int(new_at) + start}{new_len or ''} @@" + line[match.end() :]
            )
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan(root: Path, args: PreviewArgs, protected: ProtectedPaths) -> Planned:
    """Read the file (confined, no link, text only) and compute the edit; change nothing."""
    if "\x00" in args.new:
        raise InputError("new: must not contain NUL bytes (text only)")
    precheck_write(root, args.path, protected=protected)  # .git, executable, protected
    got = confined_read(root, args.path, MAX_FILE_BYTES, protected=protected)
    before = got.content
    if "\ufffd" in before:
        raise InputError(
            f"path: {got.path} is not clean UTF-8 text; filesystem_edit would change bytes "
            "it was not asked to (use filesystem_write)"
        )
    count = before.count(args.old)
    if count == 0:
        raise InputError(f"old: the text was not found in {got.path}")
    if count > 1 and not args.replace_all:
        raise InputError(
            f"old: found {count} times in {got.path}; include more surrounding text to make it "
            "unique, or set replace_all"
        )
    if args.old == args.new:
        raise InputError("new: is the same as old; nothing would change")
    after = (
        before.replace(args.old, args.new)
        if args.replace_all
        else before.replace(args.old, args.new, 1)
    )
    return Planned(
        got.path, before, after, sha256_text(before), unified_diff(got.path, before, after), count
    )


def planned_as_approved(root: Path, args: EditArgs, protected: ProtectedPaths) -> Planned:
    """The edit, refused unless the file is still exactly what `args` were computed from."""
    planned = plan(root, args, protected)
    if planned.sha256 != args.expected_sha256:
        raise ChangedFile(
            f"expected_sha256: {planned.path} changed since this edit was computed (its sha256 "
            f"is now {planned.sha256}); preview the edit again"
        )
    if planned.diff != args.diff:
        raise ChangedFile(
            f"diff: is not the diff this edit makes to {planned.path}; use the diff "
            "filesystem_edit_preview gives"
        )
    return planned


def apply(root: Path, args: EditArgs, protected: ProtectedPaths) -> dict[str, Any]:
    planned = planned_as_approved(root, args, protected)
    outcome = confined_write(root, args.path, planned.after, protected=protected)
    return {
        "path": outcome.path,
        "replacements": planned.replacements if args.replace_all else 1,
        "bytes_written": outcome.bytes_written,
        "sha256": sha256_text(planned.after),
        "diff": planned.diff,
    }


async def _preview(ctx: ToolContext, args: PreviewArgs) -> dict[str, Any]:
    """The edit's diff and base hash, inside the exact arguments to request (once only: a
    planner reads a capped summary of this result)."""
    planned = await asyncio.to_thread(plan, ctx.workspace, args, ctx.protected)
    return {
        "path": planned.path,
        "replacements": planned.replacements if args.replace_all else 1,
        "edit_args": {
            **args.model_dump(),
            "expected_sha256": planned.sha256,
            "diff": planned.diff,
        },
    }


def _check_preview(ctx: ToolContext, args: PreviewArgs) -> None:
    plan(ctx.workspace, args, ctx.protected)  # a bad edit is refused input, not a failed run


def _check_edit(ctx: ToolContext, args: EditArgs) -> None:
    planned_as_approved(ctx.workspace, args, ctx.protected)


async def _edit(ctx: ToolContext, args: EditArgs) -> dict[str, Any]:
    return await asyncio.to_thread(apply, ctx.workspace, args, ctx.protected)


async def _edit_dry_run(ctx: ToolContext, args: EditArgs) -> dict[str, Any]:
    planned = await asyncio.to_thread(planned_as_approved, ctx.workspace, args, ctx.protected)
    return {"path": planned.path, "would": "edit", "diff": planned.diff}


FILESYSTEM_EDIT_PREVIEW = ToolSpec(
    name="filesystem_edit_preview",
    description=(
        "Compute a filesystem_edit (replace exact text in one file) without changing "
        "anything: the diff, the file's sha256 and the exact arguments to request."
    ),
    risk=Risk.LOW,
    args_model=PreviewArgs,
    run=_preview,
    check=_check_preview,
    timeout_sec=30,
    output_cap=12_000_000,
)

FILESYSTEM_EDIT = ToolSpec(
    name="filesystem_edit",
    description=(
        "Replace exact text in one workspace file (unique unless replace_all; atomic). Takes "
        "the diff and sha256 filesystem_edit_preview gives; refused if the file changed."
    ),
    risk=Risk.HIGH,
    default_enabled=False,
    args_model=EditArgs,
    run=_edit,
    check=_check_edit,
    dry_run=_edit_dry_run,
    timeout_sec=30,
    output_cap=6_000_000,
)

TOOLS = [FILESYSTEM_EDIT_PREVIEW, FILESYSTEM_EDIT]
