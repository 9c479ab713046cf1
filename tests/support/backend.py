"""Which database backend each test runs on (issue 21), chosen by `--backend`.

`auto` (the default, what the README's test command and `.ci/run` use) runs every test on
SQLite and, when a PostgreSQL server can be had (`pg_ctl` installed, or `DAENA_TEST_PG_URL`
set), a second variant of each test in the folders that go through the engine's storage,
its id ending in `[postgresql]`. `sqlite` and `postgresql` run one variant, on that backend.

The variant is the module-scoped `backend` fixture, parametrised here: the autouse fixtures
in tests/conftest.py give each PostgreSQL variant its own database. A module-scoped fixture
that opens the database takes `backend`, so pytest builds it again for the other variant
instead of handing a SQLite server to a `[postgresql]` test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.postgres.cluster import pg_bin

TESTS = Path(__file__).resolve().parent.parent
# The folders whose tests reach the engine's storage; tests/tui stays SQLite-only (its
# PostgreSQL test is tests/postgres/test_console.py).
STORAGE_FOLDERS = (
    "engine",
    "api",
    "mcp_gateway",
    "reliability",
    "postgres",
    "cli",
    "redteam",
    "node_server",
)
CHOICES = ("auto", "sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=CHOICES,
        default=os.environ.get("DAENA_TEST_BACKEND", "auto"),
        help="database backend: auto (default) = SQLite, plus PostgreSQL variants of the "
        "storage tests when pg_ctl or DAENA_TEST_PG_URL is there; sqlite or postgresql = one",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "no_postgres(reason): runs on SQLite only, under any --backend (say why)"
    )


def chosen(config: pytest.Config) -> str:
    return str(config.getoption("--backend"))


def postgres_missing() -> str | None:
    """Why no PostgreSQL server can be had, or None when one can."""
    if os.environ.get("DAENA_TEST_PG_URL") or pg_bin() is not None:
        return None
    return "no pg_ctl (on PATH or in /usr/lib/postgresql/*/bin) and DAENA_TEST_PG_URL is unset"


def skip_unless_own_cluster(config: pytest.Config) -> None:
    """Skip a test that starts throw-away clusters of its own: not under `--backend=sqlite`,
    nor without pg_ctl (a server DAENA_TEST_PG_URL names is not ours to stop)."""
    if chosen(config) == "sqlite":
        pytest.skip("--backend=sqlite: no PostgreSQL")
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (no pg_ctl)")


def postgres_variants(config: pytest.Config) -> bool:
    """Whether `auto` adds the PostgreSQL variants in this run."""
    return chosen(config) == "auto" and postgres_missing() is None


def in_storage_folder(path: Path) -> bool:
    try:
        relative = path.resolve().relative_to(TESTS)
    except ValueError:  # a test file outside tests/
        return False
    return len(relative.parts) > 1 and relative.parts[0] in STORAGE_FOLDERS


def pytest_report_header(config: pytest.Config) -> list[str]:
    backend = chosen(config)
    if backend != "auto":
        return [f"backend: {backend} only (--backend={backend})"]
    missing = postgres_missing()
    if missing:
        return [f"backend: SQLite only; the PostgreSQL variants were skipped: {missing}"]
    server = os.environ.get("DAENA_TEST_PG_URL") and "the server DAENA_TEST_PG_URL names"
    where = server or f"a throw-away cluster per worker ({pg_bin()})"
    folders = ", ".join(STORAGE_FOLDERS)
    return [f"backend: SQLite, plus [postgresql] variants of tests/{{{folders}}} on {where}"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames or not postgres_variants(metafunc.config):
        return
    definition = metafunc.definition
    if definition.get_closest_marker("no_postgres") or not in_storage_folder(definition.path):
        return
    metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    """The backend this test (and its module's fixtures) runs on: `sqlite` or `postgresql`."""
    param = getattr(request, "param", None)
    if param is not None:
        return str(param)
    return "postgresql" if chosen(request.config) == "postgresql" else "sqlite"
