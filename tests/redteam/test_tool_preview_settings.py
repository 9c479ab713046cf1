"""Red team, promise 4: the Tools list drawn before the engine opens (engine/tools/preview.py)
is the engine's, or none.

The preview resolves the database file itself, without pydantic-settings. The settings also
read each variable by its field name (`populate_by_name`: `daena_db_path`, `daena_db_url`,
`daena_config_file`, in the environment or `.env`); the preview read only the upper-case
names, so `daena_db_path=other.db` drew the default database's toggles while the engine
opened another database (a tool shown disabled that the engine lists enabled). The checks
are differential: whatever the preview names is what the settings name, or it declines.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from engine import Engine, Settings, load_settings
from engine.tools.preview import preview_db_path, preview_tools, stored_tools
from tests.engine.tools.test_tool_preview import opened, stored_doc

pytestmark = pytest.mark.no_postgres("the preview reads embedded SQLite files only")
__all__ = ["opened"]  # the fixture, shared with the preview's own tests

NAMES = ("DAENA_DB_PATH", "DAENA_DB_URL", "DAENA_CONFIG_FILE")
CASES = [
    ({"daena_db_path": "lower.db"}, None),
    ({}, "daena_db_path=lower.db\n"),
    ({"daena_db_url": "sqlite:///url.db"}, None),
    ({}, "daena_db_url=sqlite:///url.db\n"),
    ({"daena_config_file": "daena.toml"}, None),
    ({}, "daena_config_file=daena.toml\n"),
    ({"DAENA_DB_PATH": "upper.db"}, "daena_db_path=lower.db\n"),
    ({"daena_db_path": "lower.db"}, "DAENA_DB_PATH=upper.db\n"),
    ({"Daena_Db_Path": "mixed.db"}, None),  # not a name the settings read
    ({}, "export DAENA_DB_PATH=exported.db\n"),
    ({}, "DAENA_DB_PATH=first.db\nDAENA_DB_PATH=\n"),  # the last, blank: the default
]


@pytest.mark.parametrize(("env", "dotenv"), CASES)
@pytest.mark.parametrize("flag", [None, "flag.db"])
def test_the_preview_names_the_settings_database_or_none(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    dotenv: str | None,
    flag: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "daena.toml").write_text('DAENA_DB_PATH = "from-toml.db"\n', encoding="utf-8")
    for name in (*NAMES, *(n.lower() for n in NAMES)):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    env_file = None
    if dotenv is not None:
        env_file = tmp_path / ".env"
        env_file.write_text(dotenv, encoding="utf-8")
    overrides = {"daena_db_path": Path(flag)} if flag else {}
    expected = load_settings(env_file=env_file, **overrides).daena_db_path
    assert preview_db_path(flag, env_file) in (None, expected)


async def test_a_lower_case_name_never_previews_another_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """The attack end to end: the default database has shell_exec off, the one the settings
    name (by field name) has it on; the preview must not show it off."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for name in (*NAMES, *(n.lower() for n in NAMES)):
        monkeypatch.delenv(name, raising=False)
    default = tmp_path / "data" / "daena" / "daena.db"
    named = tmp_path / "named.db"
    for path, on in ((default, False), (named, True)):
        async with Engine.open(settings.model_copy(update={"daena_db_path": path})) as eng:
            await eng.set_tool_enabled("shell_exec", on)
    monkeypatch.setenv("daena_db_path", str(named))
    assert load_settings(env_file=None).daena_db_path == named
    rows = stored_tools(None, None)
    assert rows is None or {r.name: r.enabled for r in rows}["shell_exec"]


async def test_a_policy_the_engine_cannot_parse_is_not_previewed(opened: Path) -> None:
    """A lone surrogate is valid to Python's json, not to pydantic's JSON parser."""
    stored_doc(opened, '{"tool_enabled": {"\\ud800": true}}')
    with sqlite3.connect(opened) as con:
        assert con.execute("SELECT doc FROM exec_config").fetchone()[0].startswith("{")
    con.close()
    assert preview_tools(opened) is None


async def test_a_tilde_path_never_previews_a_database_in_the_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    """`DAENA_DB_PATH=~/daena.db` (quoted in `.env`, so no shell expanded it): the engine
    opens it under the home directory (`Database.open` expands `~`). The preview read
    `./~/daena.db`, relative to the cwd, which may be the agent's workspace: a database
    the agent wrote there with everything enabled was drawn as the stored list."""
    home, cwd = tmp_path / "home", tmp_path / "workspace"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd.mkdir() or cwd)
    for name in (*NAMES, *(n.lower() for n in NAMES)):
        monkeypatch.delenv(name, raising=False)
    real, planted = home / "daena.db", cwd / "~" / "daena.db"
    for path, on in ((real, False), (planted, True)):
        async with Engine.open(settings.model_copy(update={"daena_db_path": path})) as eng:
            await eng.set_tool_enabled("filesystem_write", on)
    (cwd / ".env").write_text('DAENA_DB_PATH="~/daena.db"\n', encoding="utf-8")
    for flag in (None, "~/daena.db"):
        rows = stored_tools(flag, cwd / ".env")
        assert rows is not None
        assert not {r.name: r.enabled for r in rows}["filesystem_write"]


def test_a_fifo_or_a_locked_database_is_not_previewed(opened: Path, tmp_path: Path) -> None:
    """Read on the UI thread: a FIFO at the path is never opened (it would block until a
    writer came), and a database another process holds exclusively gives none."""
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    assert preview_tools(fifo) is None
    holder = sqlite3.connect(opened, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE exec_config SET updated_at = updated_at")
        assert preview_tools(opened) is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert preview_tools(opened) is not None
