"""`--backend` (tests/support/backend.py): `auto` adds a `[postgresql]` variant of each
storage test when a server can be had and says so when it cannot; `sqlite` and
`postgresql` run one variant. Checked on a real collection of a real test file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres.cluster import pg_bin

pytestmark = pytest.mark.no_postgres  # collects in pytests of its own

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests/engine/test_storage.py"
# Loaded with -p before the conftest: this machine then has no PostgreSQL to find.
NO_PG = "import tests.postgres.cluster as cluster\ncluster.pg_bin = lambda: None\n"


def collect(tmp_path: Path, *args: str, no_pg: bool = False) -> tuple[str, list[str]]:
    """The header's backend line and the collected ids of TARGET's tests."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    env.pop("DAENA_TEST_PG_URL", None)
    env.pop("DAENA_TEST_BACKEND", None)
    argv = [sys.executable, "-m", "pytest", "--co", "-p", "no:cacheprovider", *args]
    if no_pg:
        (tmp_path / "no_pg_here.py").write_text(NO_PG)
        argv += ["-p", "no_pg_here"]
    done = subprocess.run(
        [*argv, TARGET], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    header = [line for line in lines if line.startswith("backend:")]
    assert len(header) == 1, done.stdout
    tests = (re.fullmatch(r"<(?:Function|Coroutine) (.+)>", line) for line in lines)
    return header[0], [found[1] for found in tests if found]


def test_auto_without_postgresql_says_why_and_runs_sqlite_only(tmp_path: Path) -> None:
    header, ids = collect(tmp_path, no_pg=True)
    assert "PostgreSQL variants were skipped" in header and "pg_ctl" in header
    assert ids and not any("[" in i for i in ids)  # ids as they always were


def test_one_backend_each_when_chosen(tmp_path: Path) -> None:
    for choice in ("sqlite", "postgresql"):
        header, ids = collect(tmp_path, f"--backend={choice}")
        assert header == f"backend: {choice} only (--backend={choice})"
        assert ids and not any("[" in i for i in ids)


def test_auto_with_postgresql_adds_a_variant_of_each_storage_test(tmp_path: Path) -> None:
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (no pg_ctl)")
    header, ids = collect(tmp_path)
    assert "[postgresql] variants" in header
    on_pg = {i.removesuffix("[postgresql]") for i in ids if i.endswith("[postgresql]")}
    on_sqlite = {i.removesuffix("[sqlite]") for i in ids if i.endswith("[sqlite]")}
    assert on_pg and on_pg == on_sqlite
    # a test about SQLite's own file (no_postgres) runs once, on SQLite
    assert "test_corrupt_database_gives_clear_error" in ids
