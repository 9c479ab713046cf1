"""Shared fixtures: a real git repository as workspace, a real SQLite file, a real engine."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pygit2
import pytest

from engine import Engine, Settings, load_settings
from tests.postgres.cluster import Cluster

# Fixtures shared by several test folders (bin_dir, no_coqui).
pytest_plugins = ["tests.support.voice", "tests.support.serial", "tests.support.backend"]

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


# -- the backend (issue 21, tests/support/backend.py): a test's PostgreSQL variant gets a
# fresh database through DAENA_DB_URL in the environment, so subprocesses it starts use it too.


@pytest.fixture(scope="session")
def pg_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A PostgreSQL server for the session (skips when none can be had, or under
    `--backend=sqlite`)."""
    from tests.support.backend import chosen, postgres_missing  # a plugin: not imported early

    if chosen(request.config) == "sqlite":
        pytest.skip("--backend=sqlite: no PostgreSQL")
    missing = postgres_missing()
    if missing:
        pytest.skip(f"PostgreSQL: {missing}")
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.drop_all()
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on the session's server, dropped after the test unless a
    longer-lived fixture's server (a database path outside this test's) still uses it."""
    url = pg_cluster.fresh_database()
    yield url
    for path in [p for p, bound in _PG_FOR_PATH.items() if bound == url]:
        if path.startswith(str(tmp_path)):
            del _PG_FOR_PATH[path]
    if url not in _PG_FOR_PATH.values():
        pg_cluster.drop_database(url)


PG_BOUND = "DAENA_TEST_PG_THIS_TEST"
_PG_FOR_PATH: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _module_backend(request: pytest.FixtureRequest, backend: str) -> Iterator[None]:
    """A database for the module's own fixtures (a server its tests share), which pytest
    sets up before any test's `_backend`: without it they would run on SQLite."""
    if backend != "postgresql" or request.node.get_closest_marker("no_postgres"):
        yield
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    url = cluster.fresh_database()
    patch = pytest.MonkeyPatch()
    patch.setenv("DAENA_DB_URL", url)
    patch.setenv(PG_BOUND, url)
    try:
        yield
    finally:
        patch.undo()
        for path in [p for p, bound in _PG_FOR_PATH.items() if bound == url]:
            del _PG_FOR_PATH[path]
        cluster.drop_database(url)


@pytest.fixture(autouse=True)
def _backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    if backend != "postgresql":
        return
    if "no_postgres" in request.keywords:  # not the module's database either
        monkeypatch.delenv("DAENA_DB_URL", raising=False)
        monkeypatch.delenv(PG_BOUND, raising=False)
        return
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("DAENA_DB_URL", url)
    monkeypatch.setenv(PG_BOUND, url)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "daena.db"


def backend_url(db_path: Path) -> str | None:
    """The PostgreSQL database standing for `db_path` in this test (None on SQLite): one
    database per path, as one SQLite file per path; a server a module-scoped fixture
    started keeps the database it was given."""
    bound = os.environ.get(PG_BOUND)
    return _PG_FOR_PATH.setdefault(str(db_path), bound) if bound else None


def make_settings(workspace: Path, db_path: Path, **extra: object) -> Settings:
    url = backend_url(db_path)
    if url and "DAENA_DB_URL" not in extra:
        extra["DAENA_DB_URL"] = url
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
