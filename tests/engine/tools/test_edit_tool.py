"""filesystem_edit through the engine and its inbox: the approved diff is exactly what is
applied, and a file changed after the diff was computed is refused, never edited. Attacks:
escapes, links (the file, a parent directory swapped mid-edit), `.git`, executables, the
console's own files, binary and non-UTF-8 files, forged diffs and hashes, huge inputs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine import Engine
from engine.errors import EngineError, PolicyError
from engine.tools.builtin.edit import sha256_text
from tests.conftest import make_repo, make_settings
from tests.support.races import INSIDE, race_rounds, swapping

SOURCE = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.fixture
async def eng(workspace: Path, db_path: Path) -> AsyncIterator[Engine]:
    make_repo(workspace, {"calc.py": SOURCE})
    (workspace / ".env").write_text("EXECUTION_TOKEN=tok-SECRET\n")
    async with Engine.open(make_settings(workspace, db_path)) as engine:
        await engine.set_tool_enabled("filesystem_edit", True)
        yield engine


async def preview(eng: Engine, **args: Any) -> dict[str, Any]:
    result = await eng.run("filesystem_edit_preview", args)
    assert result.status == "ok", result.error
    assert result.result is not None
    return result.result


FIX = {
    "path": "calc.py",
    "old": "def add(a, b):\n    return a - b",
    "new": "def add(a, b):\n    return a + b",
}


async def test_preview_request_approve_applies_exactly_the_shown_diff(
    eng: Engine, workspace: Path
) -> None:
    shown = await preview(eng, **FIX)
    assert shown["edit_args"]["expected_sha256"] == sha256_text(SOURCE)
    assert "-    return a - b\n+    return a + b\n" in shown["edit_args"]["diff"]
    assert (workspace / "calc.py").read_text() == SOURCE  # a preview changes nothing
    pending = await eng.run("filesystem_edit", shown["edit_args"])
    assert pending.status == "pending_approval" and pending.approval_request_id
    [request] = await eng.pending_approvals()
    assert request.args["diff"] == shown["edit_args"]["diff"]  # what the inbox shows
    done = await eng.approve(pending.approval_request_id)
    assert done.status == "ok", done.error
    assert done.result is not None and done.result["diff"] == request.args["diff"]
    assert (workspace / "calc.py").read_text() == SOURCE.replace("a - b", "a + b", 1)
    assert done.result["sha256"] == sha256_text((workspace / "calc.py").read_text())


async def test_a_file_changed_after_the_request_is_refused_not_edited(
    eng: Engine, workspace: Path
) -> None:
    shown = await preview(eng, **FIX)
    pending = await eng.run("filesystem_edit", shown["edit_args"])
    assert pending.approval_request_id
    changed = "# the agent rewrote this meanwhile\n" + SOURCE
    (workspace / "calc.py").write_text(changed)
    with pytest.raises(PolicyError, match="changed since this edit was computed"):
        await eng.approve(pending.approval_request_id)
    assert (workspace / "calc.py").read_text() == changed


async def test_a_forged_diff_or_hash_is_refused_at_request_time(eng: Engine) -> None:
    shown = await preview(eng, **FIX)
    forged = {**shown["edit_args"], "diff": "--- a/calc.py\n+++ b/calc.py\n@@ harmless @@\n"}
    result = await eng.run("filesystem_edit", forged)
    assert result.status == "refused" and result.error and result.error.startswith("diff:")
    stale = {**shown["edit_args"], "expected_sha256": "0" * 64}
    result = await eng.run("filesystem_edit", stale)
    assert result.status == "refused" and "expected_sha256" in (result.error or "")
    assert await eng.pending_approvals() == []  # nothing false ever reaches the inbox


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        ({"old": "return a - b", "new": "x"}, "found 2 times"),
        ({"old": "not there", "new": "x"}, "not found"),
        ({"old": "return a - b", "new": "return a - b", "replace_all": True}, "same as old"),
        ({"old": "add", "new": "a\x00b"}, "NUL"),
    ],
)
async def test_bad_edits_are_refused_with_the_rule(
    eng: Engine, args: dict[str, Any], rule: str
) -> None:
    result = await eng.run("filesystem_edit_preview", {"path": "calc.py", **args})
    assert result.status == "refused" and rule in (result.error or ""), result.error


async def test_replace_all(eng: Engine, workspace: Path) -> None:
    shown = await preview(eng, path="calc.py", old="a - b", new="b - a", replace_all=True)
    assert shown["replacements"] == 2
    await eng.update_config({"approval_mode": "auto"})
    done = await eng.run("filesystem_edit", shown["edit_args"])
    assert done.status == "ok", done.error
    assert (workspace / "calc.py").read_text().count("b - a") == 2


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("../outside.py", "outside the workspace"),
        ("/etc/passwd", "outside the workspace"),
        (".env", "console's own files"),
        (".ENV", "console's own files"),
        (".git/config", ".git"),
        (".GIT/config", ".git"),
        ("link.py", "outside the workspace"),
        ("tool.sh", "executable"),
        ("blob.py", "binary"),
        ("latin.py", "UTF-8"),
    ],
)
async def test_paths_and_files_no_edit_may_touch(
    eng: Engine, workspace: Path, name: str, rule: str
) -> None:
    outside = workspace.parent / "outside.py"
    outside.write_text("add\n")
    os.symlink(outside, workspace / "link.py")
    (workspace / ".git" / "config").write_text((workspace / ".git" / "config").read_text())
    (workspace / "tool.sh").write_text("add\n")
    (workspace / "tool.sh").chmod(0o755)
    (workspace / "blob.py").write_bytes(b"add\x00\x01")
    (workspace / "latin.py").write_bytes(b"add caf\xe9\n")
    before = {p: p.read_bytes() for p in (outside, workspace / "tool.sh", workspace / "blob.py")}
    result = await eng.run("filesystem_edit_preview", {"path": name, "old": "add", "new": "x"})
    assert result.status == "refused" and rule in (result.error or ""), result.error
    assert all(p.read_bytes() == b for p, b in before.items())


async def test_huge_inputs_are_refused_by_the_schema(eng: Engine) -> None:
    result = await eng.run(
        "filesystem_edit_preview", {"path": "calc.py", "old": "x" * 2_000_000, "new": ""}
    )
    assert result.status == "refused" and (result.error or "").startswith("args.old")


async def test_a_parent_swapped_for_a_link_mid_edit_never_writes_outside(
    eng: Engine, workspace: Path
) -> None:
    outside = workspace.parent / "out"
    outside.mkdir()
    (outside / "f.txt").write_text(INSIDE)  # same content: the preview cannot tell them apart
    await eng.update_config({"approval_mode": "auto"})
    edited = 0  # after one edit lands inside, "inside" is gone and later previews refuse
    with swapping(workspace, outside):
        for _ in race_rounds(iterations=150):
            try:
                got = await eng.run(
                    "filesystem_edit_preview", {"path": "d/f.txt", "old": "inside", "new": "in"}
                )
            except EngineError:
                continue
            if got.status != "ok" or got.result is None:
                continue
            done = await eng.run("filesystem_edit", got.result["edit_args"])
            edited += done.status == "ok"
            assert (outside / "f.txt").read_text() == INSIDE
    assert (outside / "f.txt").read_text() == INSIDE


@pytest.mark.parametrize("where", [0, 500, 29_999])
async def test_the_shown_diff_applied_by_git_gives_exactly_the_edited_file(
    eng: Engine, workspace: Path, tmp_path: Path, where: int
) -> None:
    import subprocess

    text = "".join(f"line {i} of a large file\n" for i in range(30_000))
    (workspace / "big.txt").write_text(text)
    shown = await preview(eng, path="big.txt", old=f"line {where} of", new=f"line {where} OF\nnew")
    await eng.update_config({"approval_mode": "auto"})
    done = await eng.run("filesystem_edit", shown["edit_args"])
    assert done.status == "ok", done.error
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "big.txt").write_text(text)
    (copy / "p.diff").write_text(shown["edit_args"]["diff"])
    subprocess.run(["git", "apply", "p.diff"], cwd=copy, check=True, capture_output=True)
    assert (copy / "big.txt").read_text() == (workspace / "big.txt").read_text()
