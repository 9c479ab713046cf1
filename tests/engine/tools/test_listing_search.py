"""filesystem_list and workspace_search on real repositories, and the attacks that apply:
escapes, links (to files and directories, inside and out), a directory swapped for a link
mid-walk, `.git`, the console's own files (by name, case, NTFS spelling, hard link,
database companions), binary and oversize files, FIFOs, hostile patterns."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine import Engine
from engine.errors import ConfinementError, InputError
from engine.tools.builtin.listing import FILESYSTEM_LIST, ListArgs
from engine.tools.builtin.search import WORKSPACE_SEARCH, SearchArgs
from engine.tools.spec import ToolContext
from tests.conftest import make_settings
from tests.engine.tools.big_repo import NEEDLE, make_big_repo
from tests.engine.tools.conftest import MakeCtx
from tests.support.races import race_rounds, swapping

SECRET = "tok-SECRET-91b2"


async def listing(ctx: ToolContext, **args: Any) -> dict[str, Any]:
    model = ListArgs(**args)
    assert FILESYSTEM_LIST.check is not None
    FILESYSTEM_LIST.check(ctx, model)
    return await FILESYSTEM_LIST.run(ctx, model)


async def searching(ctx: ToolContext, **args: Any) -> dict[str, Any]:
    model = SearchArgs(**args)
    assert WORKSPACE_SEARCH.check is not None
    WORKSPACE_SEARCH.check(ctx, model)
    return await WORKSPACE_SEARCH.run(ctx, model)


def paths(result: dict[str, Any]) -> list[str]:
    return [e["path"] for e in result["entries"]]


def found(result: dict[str, Any]) -> set[str]:
    return {m["path"] for m in result["matches"]}


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_big_repo(tmp_path_factory.mktemp("big") / "ws")


@pytest.fixture
def hostile(workspace: Path, tmp_path: Path) -> Path:
    """A workspace holding the console's own files, links out, a `.git` with the secret,
    binary and oversize files; `outside` beside it holds the secret too."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{SECRET}\n")
    ws = workspace
    (ws / "src").mkdir()
    (ws / "src" / "app.py").write_text("def main():\n    return 'hello'\n")
    (ws / ".env").write_text(f"EXECUTION_TOKEN={SECRET}\n")
    (ws / ".ENV").write_text(f"EXECUTION_TOKEN={SECRET}\n")
    os.link(ws / ".env", ws / "hard.txt")
    for name in ("daena.db", "daena.db-wal", "daena.db.audit-key"):
        (ws / name).write_text(f"{SECRET}\n")
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text(f"# {SECRET}\n")
    (ws / ".GIT").mkdir()  # on a case-insensitive system it is .git
    (ws / ".GIT" / "x").write_text(f"{SECRET}\n")
    os.symlink(outside, ws / "out_dir")
    os.symlink(outside / "secret.txt", ws / "out_file.txt")
    os.symlink(ws / "src", ws / "in_dir")  # inside, still never followed
    (ws / "blob.bin").write_bytes(b"\x00\x01" + SECRET.encode())
    (ws / "big.txt").write_text(f"{SECRET}\n" + "x" * 2_000_000)
    return ws


@pytest.fixture
def hostile_ctx(hostile: Path, make_ctx: MakeCtx) -> ToolContext:
    return make_ctx(hostile, DAENA_DB_PATH=str(hostile / "daena.db"))


# -- real repositories ------------------------------------------------------------------------


async def test_list_the_10000_file_repository(big_repo: Path, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(big_repo)
    every = await listing(ctx, recursive=True, max_entries=20_000)
    files = [e for e in every["entries"] if e["kind"] == "file"]
    assert len(files) == 10_000 and not every["truncated"]
    assert all(e["size"] > 0 for e in files)
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=big_repo, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(e["path"] for e in files) == sorted(tracked)
    assert not any(".git" in p.split("/") for p in paths(every))
    capped = await listing(ctx, recursive=True, max_entries=50)
    assert capped["count"] == 50 and capped["truncated"] and "max_entries" in capped["note"]
    one = await listing(ctx, path="pkg07", recursive=True, glob="file0000[7].py")
    assert paths(one) == ["pkg07/mod0/file00007.py"]


async def test_search_the_10000_file_repository_matches_git_grep(
    big_repo: Path, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(big_repo)
    grep = subprocess.run(
        ["git", "grep", "-l", NEEDLE], cwd=big_repo, capture_output=True, text=True, check=True
    ).stdout.split()
    result = await searching(ctx, pattern=NEEDLE, max_matches=1000)
    assert sorted(found(result)) == sorted(grep) and len(grep) == 100
    assert result["files_searched"] == 10_000 and result["more"] == 0
    assert all(m["line"] == 7 for m in result["matches"])
    capped = await searching(ctx, pattern=NEEDLE, max_matches=10)
    assert capped["count"] == 10 and capped["more"] == 90 and capped["truncated"]
    rx = await searching(ctx, pattern=r"needle_m.rker in file \d+00$", regex=True)
    assert rx["count"] == 99  # file 0 ends in "0", not "00"
    folded = await searching(
        ctx, pattern=NEEDLE.upper(), case_sensitive=False, glob="pkg00/mod3/**"
    )
    assert folded["count"] == 10
    assert (await searching(ctx, pattern=NEEDLE.upper()))["count"] == 0


async def test_list_kinds_sizes_sorted_and_depth(workspace: Path, make_ctx: MakeCtx) -> None:
    (workspace / "b").mkdir()
    (workspace / "b" / "c").mkdir()
    (workspace / "b" / "c" / "deep.txt").write_text("deep\n")
    (workspace / "a.txt").write_text("12345")
    ctx = make_ctx(workspace)
    top = await listing(ctx)
    assert paths(top) == ["a.txt", "b"]
    assert {e["path"]: (e["kind"], e["size"]) for e in top["entries"]}["a.txt"] == ("file", 5)
    shallow = await listing(ctx, recursive=True, max_depth=2)
    assert "b/c" in paths(shallow) and "b/c/deep.txt" not in paths(shallow)
    deep = await listing(ctx, recursive=True)
    assert "b/c/deep.txt" in paths(deep)


async def test_gitignore_is_honoured_like_git(git_workspace: Path, make_ctx: MakeCtx) -> None:
    workspace = git_workspace
    (workspace / "src").mkdir()
    (workspace / ".gitignore").write_text("*.log\n!keep.log\nbuild/\n")
    (workspace / "a.log").write_text("needle\n")
    (workspace / "keep.log").write_text("needle\n")
    (workspace / "build").mkdir()
    (workspace / "build" / "out.txt").write_text("needle\n")
    (workspace / "src" / ".gitignore").write_text("gen_*\n")
    (workspace / "src" / "gen_x.py").write_text("needle\n")
    (workspace / "src" / "real.py").write_text("needle\n")
    ctx = make_ctx(workspace)
    listed = paths(await listing(ctx, recursive=True))
    git_sees = subprocess.run(
        ["git", "ls-files", "--others", "--cached", "--exclude-standard"],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(p for p in listed if "." in p.rsplit("/", 1)[-1]) == sorted(git_sees)
    hits = found(await searching(ctx, pattern="needle"))
    assert hits == {"keep.log", "src/real.py"}
    everything = found(await searching(ctx, pattern="needle", gitignore=False))
    assert everything == {"a.log", "keep.log", "build/out.txt", "src/gen_x.py", "src/real.py"}
    # Started below, the root's rules still apply (git reads every level above).
    assert paths(await listing(ctx, path="build", gitignore=True)) == []


# -- attacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["..", "../outside", "/etc", "out_dir", "in_dir/../../outside", "C:\\x", "\\\\h\\s"]
)
async def test_escapes_are_refused(hostile_ctx: ToolContext, raw: str) -> None:
    with pytest.raises(ConfinementError, match="path"):
        await listing(hostile_ctx, path=raw)
    with pytest.raises(ConfinementError, match="path"):
        await searching(hostile_ctx, pattern="x", path=raw)


@pytest.mark.parametrize("raw", [".git", ".git/hooks", ".GIT", ".git.", "src/../.git"])
async def test_git_dir_is_never_listed_or_searched(hostile_ctx: ToolContext, raw: str) -> None:
    with pytest.raises(ConfinementError):
        await listing(hostile_ctx, path=raw)
    with pytest.raises(ConfinementError):
        await searching(hostile_ctx, pattern=SECRET, path=raw)


@pytest.mark.parametrize("raw", [".env", "daena.db-wal", ".ENV"])
async def test_a_protected_start_is_refused(hostile_ctx: ToolContext, raw: str) -> None:
    with pytest.raises(ConfinementError, match="console's own files"):
        await listing(hostile_ctx, path=raw)


async def test_nothing_protected_outside_or_in_git_is_shown_or_read(
    hostile_ctx: ToolContext,
) -> None:
    listed = await listing(hostile_ctx, recursive=True, gitignore=False, max_entries=20_000)
    names = set(paths(listed))
    assert names.isdisjoint(
        {".env", ".ENV", "hard.txt", "daena.db", "daena.db-wal", "daena.db.audit-key"}
    )
    assert not any(n.split("/")[0] in (".git", ".GIT") for n in names)
    assert listed["protected_left_out"] == 6
    kinds = {e["path"]: e["kind"] for e in listed["entries"]}
    assert kinds["out_dir"] == "link" and kinds["out_file.txt"] == "link"
    assert kinds["in_dir"] == "link" and not any(n.startswith("in_dir/") for n in names)
    assert not any(n.startswith("out_dir/") for n in names)
    hits = await searching(hostile_ctx, pattern=SECRET, gitignore=False)
    assert hits["matches"] == [] and hits["more"] == 0
    assert hits["skipped_binary"] == 1 and hits["skipped_large"] == 1
    anything = await searching(hostile_ctx, pattern="EXECUTION_TOKEN", gitignore=False)
    assert anything["matches"] == []


async def test_the_defaults_cwd_env_and_config_file_are_hidden(
    workspace: Path, db_path: Path, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workspace / "daena.toml").write_text(f"# {SECRET}\n")
    (workspace / ".env.").write_text(f"{SECRET}\n")  # NTFS opens `.env` for this name
    monkeypatch.chdir(workspace)
    ctx = make_ctx(workspace, DAENA_CONFIG_FILE=str(workspace / "daena.toml"))
    assert "daena.toml" not in paths(await listing(ctx))
    assert (await searching(ctx, pattern=SECRET))["matches"] == []


async def test_a_large_file_is_skipped_and_a_fifo_does_not_hang(
    workspace: Path, make_ctx: MakeCtx
) -> None:
    os.mkfifo(workspace / "pipe.txt")
    (workspace / "long.txt").write_text("needle " + "y" * 5000 + "\n")
    ctx = make_ctx(workspace)
    result = await searching(ctx, pattern="needle", max_file_bytes=100)
    assert result["matches"] == [] and result["skipped_large"] == 1
    assert {e["path"]: e["kind"] for e in (await listing(ctx))["entries"]}["pipe.txt"] == "other"
    full = await searching(ctx, pattern="needle")
    assert len(full["matches"][0]["text"]) < 500  # one long line cannot fill the result


async def test_a_directory_swapped_for_a_link_mid_walk_never_leads_outside(
    workspace: Path, tmp_path: Path, make_ctx: MakeCtx
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text(f"{SECRET}\n")
    (outside / "only_outside.txt").write_text("x\n")
    ctx = make_ctx(workspace)
    seen_inside = 0
    with swapping(workspace, outside):
        for _ in race_rounds():
            listed = paths(await listing(ctx, recursive=True))
            assert "d/only_outside.txt" not in listed
            hits = await searching(ctx, pattern=SECRET)
            assert hits["matches"] == []
            seen_inside += "d/f.txt" in listed
    assert seen_inside > 0  # the race did let the walk into the real directory


async def test_a_hostile_regex_takes_linear_time_and_bad_ones_are_refused(
    workspace: Path, make_ctx: MakeCtx
) -> None:
    (workspace / "a.txt").write_text("a" * 100_000 + "b\naaa\n")
    ctx = make_ctx(workspace)
    done: list[dict[str, Any]] = []

    def run() -> None:
        import asyncio

        done.append(
            asyncio.run(WORKSPACE_SEARCH.run(ctx, SearchArgs(pattern="(a+)+$", regex=True)))
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)  # backtracking would take longer than the universe's age
    assert not thread.is_alive() and done[0]["count"] == 1
    for bad in ["(?=x)", r"(a)\1", "("]:
        with pytest.raises(InputError, match="pattern: not a valid RE2"):
            await searching(ctx, pattern=bad, regex=True)
    with pytest.raises(InputError, match="glob"):
        await listing(ctx, glob="*.py\n!x")


@pytest.fixture
async def engine_ws(workspace: Path, db_path: Path) -> AsyncIterator[Engine]:
    (workspace / "src").mkdir()
    (workspace / "src" / "app.py").write_text("print('hi')\n")
    async with Engine.open(make_settings(workspace, db_path)) as eng:
        yield eng


async def test_through_the_engine_on_by_default_and_bad_input_is_one_line(
    engine_ws: Engine,
) -> None:
    ok = await engine_ws.run("filesystem_list", {"recursive": True})
    assert ok.status == "ok" and ok.result is not None
    assert "src/app.py" in paths(ok.result)
    hit = await engine_ws.run("workspace_search", {"pattern": "print"})
    assert hit.status == "ok" and hit.result is not None and found(hit.result) == {"src/app.py"}
    huge = await engine_ws.run("workspace_search", {"pattern": "x" * 5000})
    assert huge.status == "refused" and huge.error and huge.error.startswith("args.pattern")
    out = await engine_ws.run("filesystem_list", {"path": "../"})
    assert out.status == "refused" and out.error and "outside the workspace" in out.error


async def test_a_gitignore_hard_linked_to_env_is_not_read_as_patterns(
    workspace: Path, make_ctx: MakeCtx
) -> None:
    """Its lines as patterns would hide a file named after the secret: an oracle."""
    (workspace / ".env").write_text(f"{SECRET}\n")
    os.link(workspace / ".env", workspace / ".gitignore")
    (workspace / SECRET).write_text("guess\n")
    ctx = make_ctx(workspace)
    assert SECRET in paths(await listing(ctx))
    assert found(await searching(ctx, pattern="guess")) == {SECRET}


async def test_a_file_as_the_start_is_searched_alone(hostile_ctx: ToolContext) -> None:
    one = await searching(hostile_ctx, pattern="hello", path="src/app.py")
    assert [(m["path"], m["line"]) for m in one["matches"]] == [("src/app.py", 2)]
    assert paths(await listing(hostile_ctx, path="src/app.py")) == ["src/app.py"]
    with pytest.raises(ConfinementError, match="console's own files"):
        await searching(hostile_ctx, pattern=SECRET, path="hard.txt")  # a hard link to .env
    with pytest.raises(ConfinementError):
        await searching(hostile_ctx, pattern=SECRET, path="out_file.txt")  # a link out


async def test_non_ascii_text_is_found_in_any_case(workspace: Path, make_ctx: MakeCtx) -> None:
    (workspace / "menu.txt").write_text("un café noir\nrien\n", encoding="utf-8")
    (workspace / "latin1.txt").write_bytes(b"caf\xe9 latin-1\n")  # not UTF-8: shown replaced
    ctx = make_ctx(workspace)
    folded = await searching(ctx, pattern="CAFÉ", case_sensitive=False)
    assert [(m["path"], m["line"]) for m in folded["matches"]] == [("menu.txt", 1)]
    rx = await searching(ctx, pattern=r"caf. ", regex=True)
    # é is one character; a byte that is not UTF-8 is no character at all
    assert {m["path"] for m in rx["matches"]} == {"menu.txt"}
    exact = await searching(ctx, pattern="latin-1")
    assert exact["matches"][0]["text"] == "caf\ufffd latin-1"
