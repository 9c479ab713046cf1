"""The Tools list as stored (engine/tools/preview.py), read before the engine opens: it lists
what the engine would for the built-in tools, from a catalogue generated from the real specs
and the stored policy, and anything stale, foreign or malformed gives None (the normal
path), never an exception or a different list."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Engine, Settings, ToolInfo, load_settings
from engine.tools import preview
from engine.tools.preview import CATALOGUE, PreviewTool, preview_db_path, preview_tools

pytestmark = pytest.mark.no_postgres("the preview reads embedded SQLite files only")


def engine_rows(listed: list[ToolInfo]) -> list[PreviewTool]:
    """The engine's rows for the built-in tools (upstream names hold a dot)."""
    return [
        PreviewTool(t.name, t.description, str(t.risk), t.enabled)
        for t in listed
        if "." not in t.name
    ]


def test_the_shipped_catalogue_is_built_from_this_tree() -> None:
    shipped = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    assert shipped == preview.build_catalogue(), "stale: run `python -m engine.tools.preview`"


async def test_a_fresh_database_previews_what_the_engine_lists(settings: Settings) -> None:
    assert preview_tools(settings.daena_db_path) is None  # never opened: nothing stored yet
    async with Engine.open(settings) as eng:
        listed = await eng.list_tools()
    assert preview_tools(settings.daena_db_path) == engine_rows(listed)


async def test_toggled_tools_and_upstream_tools_preview_as_the_engine_lists(
    settings: Settings,
) -> None:
    from engine.tools.spec import Risk
    from engine.upstream.connection import Endpoint
    from engine.upstream.pinning import Definition

    async with Engine.open(settings) as eng:
        await eng.set_tool_enabled("git_status", False)
        await eng.set_tool_enabled("filesystem_write", True)
        store = eng.upstream.store
        await store.add_server("clock", Endpoint(("uvx", "mcp-server-time")), "op@test")
        await store.save_discovered("clock", [(Definition("now", "[b]Now[/b]", {}), {})])
        await store.pin("clock.now", Risk.LOW)
        await eng.upstream.sync()
        await eng.set_tool_enabled("clock.now", True)
        listed = await eng.list_tools()
    assert "clock.now" in {t.name for t in listed}
    rows = preview_tools(settings.daena_db_path)
    assert rows == engine_rows(listed)  # the built-in ones, in the engine's order
    by_name = {r.name: r for r in rows or []}
    assert not by_name["git_status"].enabled and by_name["filesystem_write"].enabled


@pytest.fixture
async def opened(settings: Settings) -> Path:
    async with Engine.open(settings):
        pass
    assert preview_tools(settings.daena_db_path) is not None
    return settings.daena_db_path


def stored_doc(db: Path, doc: str) -> None:
    with sqlite3.connect(db) as con:
        con.execute("UPDATE exec_config SET doc = ? WHERE id = 1", (doc,))
    con.close()


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        "[]",
        '{"tool_enabled": {"git_status": 1}}',  # the engine's model is strict: no coercion
        '{"tool_enabled": {"git_status": "false"}}',
        '{"tool_enabled": []}',
        '{"tool_enabled": {}, "surprise": true}',
        '{"tool_enabled": {}, "max_steps_per_run": 0}',
        '{"tool_enabled": {}, "approval_mode": "yolo"}',
        "[" * 100_000,  # deep nesting: RecursionError in json, not a crash
    ],
)
async def test_a_hostile_policy_row_is_not_previewed(opened: Path, doc: str) -> None:
    stored_doc(opened, doc)
    assert preview_tools(opened) is None


async def test_a_database_of_another_schema_or_no_database_is_not_previewed(
    opened: Path, tmp_path: Path
) -> None:
    with sqlite3.connect(opened) as con:
        (version,) = con.execute("PRAGMA user_version").fetchone()
        con.execute(f"PRAGMA user_version = {version - 1}")  # a migration would run first
    con.close()
    assert preview_tools(opened) is None
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert preview_tools(garbage) is None
    assert preview_tools(tmp_path / "missing.db") is None
    assert not (tmp_path / "missing.db").exists()  # opened read-only: nothing created


def test_a_stale_or_corrupt_catalogue_is_ignored(opened: Path, tmp_path: Path) -> None:
    good = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    bad = tmp_path / "catalogue.json"

    def previewed(data: object) -> list[PreviewTool] | None:
        bad.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        return preview_tools(opened, catalogue=bad)

    assert previewed(good) is not None
    assert previewed({**good, "version": "0.0.1"}) is None  # another version's
    assert previewed({**good, "sources": "0" * 64}) is None  # built before a source changed
    assert previewed({**good, "format": 2}) is None
    assert previewed({**good, "schema": good["schema"] + 1}) is None
    assert previewed({**good, "tools": []}) is None
    assert previewed("{not json") is None
    assert previewed("[1, 2]") is None
    for hostile in (
        {**good["tools"][0], "risk": "none"},
        {**good["tools"][0], "default_enabled": 1},
        {**good["tools"][0], "name": "[b]x[/b]"},
        {**good["tools"][0], "extra": True},
        dict(good["tools"][0]),  # a name twice
    ):
        assert previewed({**good, "tools": [good["tools"][0], hostile]}) is None
    bad.write_bytes(b"\xff\xfe bad utf-8")
    assert preview_tools(opened, catalogue=bad) is None


def test_an_edited_tool_module_invalidates_the_catalogue(opened: Path, tmp_path: Path) -> None:
    """The key is a hash of the tool modules' sources: a tree where one changed (a
    description edited, the catalogue not rebuilt) is not previewed."""
    root = tmp_path / "engine"
    shutil.copytree(CATALOGUE.parent.parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    assert preview_tools(opened, root=root) is not None
    shell = root / "tools" / "builtin" / "shell.py"
    shell.write_text(shell.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert preview_tools(opened, root=root) is None


@pytest.mark.parametrize(
    ("env", "dotenv", "db"),
    [
        ({}, None, None),
        ({"DAENA_DB_PATH": "from-env.db"}, None, None),
        ({"DAENA_DB_PATH": ""}, "DAENA_DB_PATH=from-dotenv.db\n", None),
        ({"DAENA_DB_PATH": "from-env.db"}, "DAENA_DB_PATH=from-dotenv.db\n", None),
        ({"DAENA_DB_PATH": "from-env.db"}, "DAENA_DB_PATH=from-dotenv.db\n", "from-flag.db"),
        ({}, 'DAENA_DB_PATH="quoted path.db"\nOTHER=1\n', None),
    ],
)
def test_the_previewed_database_is_the_one_the_settings_name(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    dotenv: str | None,
    db: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for name in ("DAENA_DB_PATH", "DAENA_DB_URL", "DAENA_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    env_file = None
    if dotenv is not None:
        env_file = tmp_path / ".env"
        env_file.write_text(dotenv, encoding="utf-8")
    overrides = {"daena_db_path": Path(db)} if db else {}
    expected = load_settings(env_file=env_file, **overrides).daena_db_path
    assert preview_db_path(db, env_file) == expected


@pytest.mark.parametrize(
    ("env", "dotenv"),
    [
        ({"DAENA_DB_URL": "sqlite:///elsewhere.db"}, None),
        ({"DAENA_DB_URL": "postgresql://db.example/daena"}, None),
        ({}, "DAENA_DB_URL=postgresql://db.example/daena\n"),
        ({"DAENA_CONFIG_FILE": "daena.toml"}, None),
        ({}, "DAENA_CONFIG_FILE=daena.toml\n"),
    ],
)
def test_another_backend_or_a_config_file_leaves_it_to_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], dotenv: str | None
) -> None:
    for name in ("DAENA_DB_PATH", "DAENA_DB_URL", "DAENA_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    env_file = None
    if dotenv is not None:
        env_file = tmp_path / ".env"
        env_file.write_text(dotenv, encoding="utf-8")
    assert preview_db_path("flag.db", env_file) is None


PREVIEW_AND_SCREEN = """
import json, sys
import daena_tui.cli.dispatch, daena_tui.console.app
from engine.tools.preview import stored_tools
rows = stored_tools(None, None)
import daena_tui.console.screens.tools
print(json.dumps([len(rows or []), sorted(sys.modules)]))
"""
NOT_BEFORE_THE_LIST = (
    "pydantic",
    "pydantic_settings",
    "aiosqlite",
    "engine.settings",
    "engine.storage",
    "engine.tools.spec",
    "engine.tools.builtin",
    "engine.policy",
    "engine.engine",
)


def test_the_stored_list_and_its_screen_load_without_pydantic_or_the_engine(
    opened: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DAENA_DB_URL", "DAENA_CONFIG_FILE")}
    env["DAENA_DB_PATH"] = str(opened)
    proc = subprocess.run(
        [sys.executable, "-c", PREVIEW_AND_SCREEN],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    count, modules = json.loads(proc.stdout)
    assert count > 0  # the preview was read, not skipped
    assert not [m for m in modules if m.startswith(NOT_BEFORE_THE_LIST)]


def test_the_policy_checks_cover_every_field_of_the_policy_model() -> None:
    """The preview's import-free checks of the stored policy mirror `ExecutionConfig`: a
    field added there must be checked here too (until then every stored policy that has it
    is refused, and the console only starts without its head start)."""
    from engine.policy import ExecutionConfig

    assert set(preview.POLICY_FIELDS) == set(ExecutionConfig.model_fields)
    stored = ExecutionConfig(tool_enabled={"git_status": False}).export()
    assert all(preview.POLICY_FIELDS[k](v) for k, v in stored.items())
