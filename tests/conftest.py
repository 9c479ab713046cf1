"""Shared fixtures: a real git repository as workspace, a real SQLite file, a real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pygit2
import pytest

from engine import Engine, Settings, load_settings

# Fixtures shared by several test folders (bin_dir, no_coqui).
pytest_plugins = ["tests.support.voice"]

SIGNATURE = pygit2.Signature("Test", "test@example.com")


def make_repo(path: Path, files: dict[str, str] | None = None) -> pygit2.Repository:
    """A git repository with one commit holding `files`."""
    path.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(path), initial_head="main")
    for name, text in (files or {"README.md": "hello\n", "src/app.py": "print('hi')\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    repo.create_commit("HEAD", SIGNATURE, SIGNATURE, "initial", tree, [])
    return repo


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    make_repo(ws)
    return ws


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "daena.db"


def make_settings(workspace: Path, db_path: Path, **extra: object) -> Settings:
    return load_settings(
        env_file=None,
        EXECUTION_WORKSPACE_ROOT=str(workspace),
        DAENA_DB_PATH=str(db_path),
        DAENA_OPERATOR="op@test",
        **extra,
    )


@pytest.fixture
def settings(workspace: Path, db_path: Path) -> Settings:
    return make_settings(workspace, db_path)


@pytest.fixture
async def eng(settings: Settings) -> AsyncIterator[Engine]:
    async with Engine.open(settings) as engine:
        yield engine
