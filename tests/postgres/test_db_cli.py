"""`daena db migrate --to postgresql://…` and `daena db info`, on a real server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from daena_tui.cli import main
from engine import AuditEntry, AuditFilter, Engine
from tests.conftest import make_settings
from tests.postgres.cluster import Cluster

# These tests choose their backends themselves (a SQLite source, a PostgreSQL target).
pytestmark = pytest.mark.no_postgres


def cli(
    capsys: pytest.CaptureFixture[str], workspace: Path, db: Path, *args: str
) -> tuple[int, str, str]:
    code = main(["--db", str(db), "--workspace", str(workspace), "--env-file", "", *args])
    out, err = capsys.readouterr()
    return code, out, err


async def fill_sqlite(workspace: Path, db_path: Path) -> dict[str, object]:
    async with Engine.open(make_settings(workspace, db_path)) as eng:
        for i in range(30):
            await eng.audit.record(
                AuditEntry(actor="op@test", action="note", status="ok", args={"i": i, "w": "Zebra"})
            )
        await eng.run("git_status")
        waiting = await eng.as_agent("bot").request("git_status", reason="why")
        return {"request": waiting.id, "last": await eng.audit.last_id()}


def test_a_sqlite_database_moves_to_postgres_with_its_chain(
    pg_cluster: Cluster, workspace: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = asyncio.run(fill_sqlite(workspace, db_path))
    url = pg_cluster.fresh_database(migrated=False)
    code, out, err = cli(capsys, workspace, db_path, "--json", "db", "migrate", "--to", url)
    assert code == 0, err
    report = json.loads(out)
    assert report["chain_ok"] is True and report["chain_checked"] == before["last"]
    assert report["rows"]["audit"] == before["last"] and report["rows"]["approval_requests"] == 1

    asyncio.run(check_target(workspace, db_path, url, before))


async def check_target(workspace: Path, db_path: Path, url: str, before: dict[str, object]) -> None:
    settings = make_settings(workspace, db_path, DAENA_DB_URL=url)
    async with Engine.open(settings) as eng:
        assert eng.db.dialect == "postgresql"
        assert (await eng.audit.verify()).ok
        assert (await eng.approvals.get(str(before["request"]))).status == "pending"
        new_id = await eng.audit.record(AuditEntry(actor="op@test", action="note", status="ok"))
        assert new_id > int(str(before["last"]))  # the chain goes on where it was
        hits = await eng.audit.page(AuditFilter(text="zebra"), limit=100)
        assert len(hits) == 30  # case-insensitive contains, through pg_trgm
        indexes = await eng.db.fetchall(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'audit_trgm_%'"
        )
        assert len(indexes) == 6  # dropped for the copy, built again after it
        await eng.prune_events(0)  # events' identity continues after the copied ids
        assert (await eng.audit.verify()).ok


def test_migrate_refuses_a_database_that_holds_records(
    pg_cluster: Cluster, workspace: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(fill_sqlite(workspace, db_path))
    url = pg_cluster.fresh_database()
    assert cli(capsys, workspace, db_path, "db", "migrate", "--to", url)[0] == 0
    code, _, err = cli(capsys, workspace, db_path, "db", "migrate", "--to", url)
    assert code != 0 and "already holds records" in err and "Traceback" not in err


def test_db_info_names_the_backend_without_the_password(
    pg_cluster: Cluster,
    workspace: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = pg_cluster.fresh_database()
    with_password = url.replace("daena_admin@", "daena_admin:hunter2-secret@")
    monkeypatch.setenv("DAENA_DB_URL", with_password)
    code, out, err = cli(capsys, workspace, db_path, "--json", "db", "info")
    assert code == 0, err
    info = json.loads(out)
    assert info["backend"] == "postgresql" and info["schema_version"] == info["schema_known"]
    assert "hunter2" not in out and "***" in info["location"]
    code, out, _ = cli(capsys, workspace, db_path, "db", "info")
    assert code == 0 and "postgresql" in out and "hunter2" not in out
    code, out, _ = cli(capsys, workspace, db_path, "doctor")
    assert "hunter2" not in out


def test_an_unreachable_server_is_one_clear_line(
    workspace: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.postgres.cluster import free_port

    monkeypatch.setenv(
        "DAENA_DB_URL",
        f"postgresql://u:hunter2-secret@127.0.0.1:{free_port()}/daena?connect_timeout=2",
    )
    code, out, err = cli(capsys, workspace, db_path, "db", "info")
    assert code != 0 and "cannot connect" in err and "Traceback" not in err
    assert "hunter2" not in err + out
    code, out, err = cli(capsys, workspace, db_path, "approvals", "list")
    assert code != 0 and "cannot connect" in err and "hunter2" not in err + out
