"""apply_patch: pygit2 only, headerless diffs, confinement, clear failures (docs/security.md, 2)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest

from engine.errors import ConfinementError, InputError, PolicyError, ToolFailure
from engine.tools.builtin.git_catalogue import APPLY_PATCH
from engine.tools.builtin.patch import parse_sections, render
from engine.tools.spec import Risk, ToolContext

MakeCtx = Callable[..., ToolContext]
ORIGINAL = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n"

MODIFY = """diff --git a/a.txt b/a.txt
--- a/a.txt
+++ b/a.txt
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
"""
HEADERLESS = """Here is the change you asked for:

--- a/a.txt
+++ b/a.txt
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
@@ -8,3 +8,3 @@
 eight
-nine
+NINE
 ten
"""
NEW_FILE = """--- /dev/null
+++ b/docs/new.md
@@ -0,0 +1,2 @@
+# New
+text
"""
DELETE = """--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
"""


def args(patch: str) -> Any:
    return APPLY_PATCH.args_model.model_validate({"patch": patch})


async def apply(ctx: ToolContext, patch: str) -> dict[str, Any]:
    assert APPLY_PATCH.check is not None
    APPLY_PATCH.check(ctx, args(patch))
    return await APPLY_PATCH.run(ctx, args(patch))


async def dry(ctx: ToolContext, patch: str) -> dict[str, Any]:
    assert APPLY_PATCH.check is not None and APPLY_PATCH.dry_run is not None
    APPLY_PATCH.check(ctx, args(patch))
    return await APPLY_PATCH.dry_run(ctx, args(patch))


@pytest.fixture(params=["git", "plain"])
def ws(request: pytest.FixtureRequest, workspace: Path) -> Path:
    """Every behaviour holds in a git repository and in a plain directory."""
    (workspace / "a.txt").write_text(ORIGINAL)
    (workspace / "gone.txt").write_text("bye\n")
    if request.param == "git":
        repo = pygit2.init_repository(str(workspace))
        repo.index.add_all()
        repo.index.write()
        sig = pygit2.Signature("T", "t@example.com")
        repo.create_commit("HEAD", sig, sig, "init", repo.index.write_tree(), [])
        repo.free()
    return workspace


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_declaration() -> None:
    assert APPLY_PATCH.risk is Risk.HIGH and not APPLY_PATCH.default_enabled


async def test_apply_modifies_the_working_tree(ws: Path, make_ctx: MakeCtx) -> None:
    result = await apply(make_ctx(ws), MODIFY)
    assert result == {"files": [{"path": "a.txt", "status": "modified"}]}
    assert (ws / "a.txt").read_text() == ORIGINAL.replace("two", "TWO")


async def test_dry_run_lists_files_and_changes_nothing(ws: Path, make_ctx: MakeCtx) -> None:
    before = snapshot(ws)
    result = await dry(make_ctx(ws), MODIFY + NEW_FILE + DELETE)
    assert result == {
        "applies": True,
        "files": [
            {"path": "a.txt", "status": "modified"},
            {"path": "docs/new.md", "status": "added"},
            {"path": "gone.txt", "status": "deleted"},
        ],
    }
    assert snapshot(ws) == before


async def test_headerless_diff_with_prose_and_two_hunks(ws: Path, make_ctx: MakeCtx) -> None:
    await apply(make_ctx(ws), HEADERLESS)
    expected = ORIGINAL.replace("two", "TWO").replace("nine", "NINE")
    assert (ws / "a.txt").read_text() == expected


async def test_new_file_and_delete(ws: Path, make_ctx: MakeCtx) -> None:
    result = await apply(make_ctx(ws), NEW_FILE + DELETE)
    assert result["files"] == [
        {"path": "docs/new.md", "status": "added"},
        {"path": "gone.txt", "status": "deleted"},
    ]
    assert (ws / "docs" / "new.md").read_text() == "# New\ntext\n"
    assert not (ws / "gone.txt").exists()


async def test_git_header_without_new_file_mode_line(ws: Path, make_ctx: MakeCtx) -> None:
    patch = "diff --git a/n.txt b/n.txt\n--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+hi\n"
    await apply(make_ctx(ws), patch)
    assert (ws / "n.txt").read_text() == "hi\n"


async def test_plain_workspace_gets_no_git_dir(workspace: Path, make_ctx: MakeCtx) -> None:
    (workspace / "a.txt").write_text(ORIGINAL)
    await apply(make_ctx(), MODIFY)
    assert sorted(os.listdir(workspace)) == ["a.txt"]


async def test_patch_that_does_not_apply_names_file_and_hunk(ws: Path, make_ctx: MakeCtx) -> None:
    bad_second_hunk = HEADERLESS.replace("-nine", "-NEUN").replace(" eight", " eight")
    before = snapshot(ws)
    for call in (apply, dry):
        with pytest.raises(ToolFailure) as failed:
            await call(make_ctx(ws), NEW_FILE + bad_second_hunk)
        message = str(failed.value)
        assert message.startswith("patch: a.txt: hunk 2 (@@ -8,3 +8,3 @@) does not apply")
    assert snapshot(ws) == before  # nothing half-applied, not even the new file


async def test_new_file_that_already_exists_fails(ws: Path, make_ctx: MakeCtx) -> None:
    patch = "--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n+x\n"
    for call in (apply, dry):
        with pytest.raises(ToolFailure, match=r"patch: a\.txt: already exists"):
            await call(make_ctx(ws), patch)
    assert (ws / "a.txt").read_text() == ORIGINAL


@pytest.mark.parametrize(
    "patch",
    [
        "--- a/a.txt\n+++ b/../../etc/x\n@@ -1 +1 @@\n-one\n+1\n",
        "--- a/../outside.txt\n+++ b/../outside.txt\n@@ -1 +1 @@\n-a\n+b\n",
        "diff --git a/../x b/../x\n--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n",
        "--- /dev/null\n+++ /etc/cron.d/x\n@@ -0,0 +1 @@\n+x\n",
        "--- /dev/null\n+++ b//tmp/x\n@@ -0,0 +1 @@\n+x\n",
        "--- /dev/null\n+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+x\n",
        "--- /dev/null\n+++ b/.GIT/config\n@@ -0,0 +1 @@\n+x\n",
        "--- /dev/null\n+++ b/sub/.git/config\n@@ -0,0 +1 @@\n+x\n",
        "--- /dev/null\n+++ b/C:/Windows/x\n@@ -0,0 +1 @@\n+x\n",
        "--- /dev/null\n+++ b/link/escape.txt\n@@ -0,0 +1 @@\n+x\n",
        "--- a/link-file\n+++ b/link-file\n@@ -1 +1 @@\n-secret\n+pwned\n",
    ],
)
async def test_paths_outside_the_workspace_or_in_git_are_refused(
    ws: Path, tmp_path: Path, make_ctx: MakeCtx, patch: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (ws / "link").symlink_to(outside, target_is_directory=True)
    (ws / "link-file").symlink_to(outside / "secret.txt")
    before, before_outside = snapshot(ws), snapshot(outside)
    ctx = make_ctx(ws)
    with pytest.raises(PolicyError) as refused:
        assert APPLY_PATCH.check is not None
        APPLY_PATCH.check(ctx, args(patch))
    assert str(refused.value).startswith("patch: ")
    for call in (APPLY_PATCH.run, APPLY_PATCH.dry_run):
        assert call is not None
        with pytest.raises(ConfinementError):
            await call(ctx, args(patch))
    assert snapshot(ws) == before and snapshot(outside) == before_outside
    assert not (tmp_path / "x").exists()


async def test_a_patch_creating_a_symlink_is_refused(ws: Path, make_ctx: MakeCtx) -> None:
    patch = (
        "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n"
        "@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n"
    )
    with pytest.raises(ConfinementError, match="symbolic link"):
        await apply(make_ctx(ws), patch)
    assert not (ws / "l").exists()


@pytest.mark.parametrize(
    ("patch", "words"),
    [
        ("no diff here, sorry", "contains no file changes"),
        ("@@ -1 +1 @@\n-a\n+b\n", "comes before any file header"),
        ("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\x00\n+1\n", "NUL"),
    ],
)
async def test_malformed_patches_are_input_errors(
    ws: Path, make_ctx: MakeCtx, patch: str, words: str
) -> None:
    with pytest.raises(InputError, match=words):
        await apply(make_ctx(ws), patch)


def test_empty_patch_is_rejected_by_the_schema() -> None:
    with pytest.raises(ValueError, match="patch"):
        args("")


def test_normaliser_keeps_removed_lines_that_look_like_headers() -> None:
    """A removed SQL comment `-- x` renders as `--- x`; hunk counting keeps it in the hunk."""
    patch = "--- a/q.sql\n+++ b/q.sql\n@@ -1,2 +1,1 @@\n--- x\n+++ y\n"
    [section] = parse_sections(patch)
    assert section.old == "q.sql" and len(section.hunks) == 1
    assert render([section]).startswith("diff --git a/q.sql b/q.sql\n--- a/q.sql\n+++ b/q.sql\n")


async def test_blank_context_lines_without_the_space_still_apply(
    ws: Path, make_ctx: MakeCtx
) -> None:
    (ws / "b.txt").write_text("a\n\nb\n")
    patch = "--- a/b.txt\n+++ b/b.txt\n@@ -1,3 +1,3 @@\n a\n\n-b\n+B\n"
    await apply(make_ctx(ws), patch)
    assert (ws / "b.txt").read_text() == "a\n\nB\n"


# -- hostile patches: .git, executables, mode changes, the console's own files -------------

_NEW = "--- /dev/null\n+++ b/{}\n@@ -0,0 +1 @@\n+x\n"


@pytest.mark.parametrize(
    ("patch", "words"),
    [
        (_NEW.format(".git"), ".git entry"),
        (_NEW.format("sub/.git"), ".git entry"),
        (_NEW.format(".GIT/config"), ".git entry"),
        (_NEW.format("sub/.git/hooks/post-checkout"), ".git entry"),
        (_NEW.format("sub/.Git./config"), ".git entry"),
        (_NEW.format("GIT~1/config"), ".git entry"),
        (
            "diff --git a/a.txt b/.git/hooks/pre-commit\nsimilarity index 100%\n"
            "rename from a.txt\nrename to .git/hooks/pre-commit\n",
            ".git entry",
        ),
        (
            "diff --git a/a.txt b/sub/.git/config\nsimilarity index 100%\n"
            "copy from a.txt\ncopy to sub/.git/config\n",
            ".git entry",
        ),
        (
            "diff --git a/.git/config b/stolen.txt\nsimilarity index 100%\n"
            "rename from .git/config\nrename to stolen.txt\n",
            ".git entry",
        ),
        (
            "diff --git a/run.sh b/run.sh\nnew file mode 100755\n--- /dev/null\n+++ b/run.sh\n"
            "@@ -0,0 +1 @@\n+echo pwned\n",
            "executable mode",
        ),
        ("diff --git a/a.txt b/a.txt\nold mode 100644\nnew mode 100755\n", "executable mode"),
        (
            "diff --git a/a.txt b/a.txt\nindex 1111111..2222222 100755\n--- a/a.txt\n"
            "+++ b/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n",
            "executable mode",
        ),
        (
            "diff --git a/a.txt b/b.sh\nold mode 100644\nnew mode 100755\nsimilarity index 100%\n"
            "rename from a.txt\nrename to b.sh\n",
            "executable mode",
        ),
        ("--- a/tool.sh\n+++ b/tool.sh\n@@ -1 +1 @@\n-echo hi\n+echo pwned\n", "executable on"),
        ("--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-TOKEN=t\n+TOKEN=mine\n", "console's own"),
        ("--- a/.ENV\n+++ b/.ENV\n@@ -1 +1 @@\n-TOKEN=t\n+TOKEN=mine\n", "console's own"),
        (
            "diff --git a/a.txt b/.env\nsimilarity index 100%\nrename from a.txt\nrename to .env\n",
            "console's own",
        ),
        ("--- a/env-link\n+++ b/env-link\n@@ -1 +1 @@\n-TOKEN=t\n+TOKEN=mine\n", "console's own"),
    ],
)
async def test_patches_touching_git_executables_or_protected_files_are_refused(
    ws: Path, make_ctx: MakeCtx, patch: str, words: str
) -> None:
    (ws / "sub").mkdir()
    (ws / "tool.sh").write_text("echo hi\n")
    (ws / "tool.sh").chmod(0o755)
    (ws / ".env").write_text("TOKEN=t\n")
    (ws / "env-link").symlink_to(ws / ".env")
    before = snapshot(ws)
    modes = {p: p.stat().st_mode for p in ws.rglob("*") if ".git" not in p.parts}
    ctx = make_ctx(ws)
    assert APPLY_PATCH.check is not None and APPLY_PATCH.dry_run is not None
    with pytest.raises(PolicyError, match=words):
        APPLY_PATCH.check(ctx, args(patch))
    for call in (APPLY_PATCH.run, APPLY_PATCH.dry_run):
        with pytest.raises(PolicyError, match=words):
            await call(ctx, args(patch))
    assert snapshot(ws) == before
    assert {p: p.stat().st_mode for p in modes} == modes
    assert not (ws / "sub" / ".git").exists() and not (ws / "run.sh").exists()


async def test_deleting_an_executable_file_is_allowed(ws: Path, make_ctx: MakeCtx) -> None:
    (ws / "old.sh").write_text("echo old\n")
    (ws / "old.sh").chmod(0o755)
    patch = (
        "diff --git a/old.sh b/old.sh\ndeleted file mode 100755\n--- a/old.sh\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-echo old\n"
    )
    result = await apply(make_ctx(ws), patch)
    assert result == {"files": [{"path": "old.sh", "status": "deleted"}]}
    assert not (ws / "old.sh").exists()


async def test_new_files_are_not_executable(ws: Path, make_ctx: MakeCtx) -> None:
    await apply(make_ctx(ws), NEW_FILE)
    assert (ws / "docs" / "new.md").stat().st_mode & 0o111 == 0


async def test_a_fake_git_layout_in_a_plain_workspace_does_not_steer_the_patch(
    workspace: Path, tmp_path: Path, make_ctx: MakeCtx
) -> None:
    """A plain workspace shaped like a git directory, with attributes naming a filter:
    the private bare repository is used, the files land in the workspace unfiltered."""
    marker = tmp_path / "MARKER"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\necho ran >> {marker}\ncat\n")
    evil.chmod(0o755)
    pygit2.init_repository(str(workspace), bare=True)
    with (workspace / "config").open("a") as config:
        config.write(f'[core]\n\tworktree = {tmp_path}\n[filter "x"]\n\tsmudge = {evil}\n')
    (workspace / ".gitattributes").write_text("* filter=x ident\n")
    (workspace / "a.txt").write_text(ORIGINAL)
    await apply(make_ctx(workspace), MODIFY)
    assert (workspace / "a.txt").read_text() == ORIGINAL.replace("two", "TWO")
    assert not marker.exists() and not (tmp_path / "a.txt").exists()


async def test_a_dot_git_file_is_never_followed(
    workspace: Path, tmp_path: Path, make_ctx: MakeCtx
) -> None:
    elsewhere = pygit2.init_repository(str(tmp_path / "elsewhere"))
    (workspace / ".git").write_text(f"gitdir: {elsewhere.path}\n")
    (workspace / "a.txt").write_text(ORIGINAL)
    with pytest.raises(ToolFailure, match="is a file pointing to another git directory"):
        await apply(make_ctx(workspace), MODIFY)
    assert (workspace / "a.txt").read_text() == ORIGINAL
