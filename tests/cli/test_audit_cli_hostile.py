"""Security promises 7 and 8 through `daena`: every attempted run is audited (an unknown
tool and unreadable arguments too), `daena audit verify` finds the newest records deleted
with raw SQL, and `daena audit export --format csv` is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import Daena, audit_count
from tests.support.raw_db import raw_db

TOKEN = 'cli"tok\\en-77aa'


@pytest.fixture
def daena(
    workspace: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Daena:
    monkeypatch.setenv("EXECUTION_TOKEN", TOKEN)
    return Daena(workspace, db_path, capsys)


def newest(db_path: Path) -> Any:
    with raw_db(db_path) as conn:
        if isinstance(conn, sqlite3.Connection):
            conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None
    return row


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "no_such_tool"], "unknown tool"),
        (["run", "no_such_tool", "--arg", "path=x"], "unknown tool"),
        (["run", "filesystem_read", "--args", "{not json"], "--args"),
        (["run", "filesystem_read", "--args", "[1]"], "--args"),
        (["run", "filesystem_read", "--arg", "novalue"], "--arg"),
        (["run", "filesystem_read", "--arg", "max_bytes=lots", "--arg", "path=a"], "max_bytes"),
        (["run", "filesystem_read", "--arg", "path=../outside"], "outside the workspace"),
    ],
)
def test_every_refused_run_from_the_cli_is_audited(
    daena: Daena, db_path: Path, argv: list[str], needle: str
) -> None:
    daena("run", "git_status")  # the database exists
    before = audit_count(daena)
    code, out, err = daena(*argv)
    assert code == 3 and "refused" in out and needle in out and "Traceback" not in err
    assert audit_count(daena) == before + 1
    record = newest(db_path)
    assert (record["action"], record["status"], record["tool"]) == ("run", "refused", argv[1])
    assert needle in record["error"]


def test_unreadable_arguments_are_recorded_as_given_and_redacted(
    daena: Daena, db_path: Path
) -> None:
    daena("run", "git_status")
    code, _, _ = daena("run", "filesystem_read", "--args", f'{{"path": "{TOKEN}"', "--arg", "x")
    assert code == 3
    record = newest(db_path)
    assert record["status"] == "refused" and "--args" in record["args"]
    assert TOKEN not in record["args"] and "***" in record["args"]
    assert TOKEN.replace("\\", "\\\\").replace('"', '\\"') not in record["args"]


def raw_sql(db_path: Path, *statements: str) -> None:
    with raw_db(db_path) as conn:
        for sql in statements:
            conn.execute(sql)


def test_verify_finds_the_newest_three_records_deleted(daena: Daena, db_path: Path) -> None:
    for i in range(6):
        daena("run", "filesystem_read", "--arg", f"path=missing-{i}")
    code, out, _ = daena("audit", "verify")
    assert code == 0 and "audit chain ok" in out
    last = int(newest(db_path)["id"])
    raw_sql(db_path, f"DELETE FROM audit WHERE id > {last - 3}")
    code, out, err = daena("audit", "verify")
    assert code == 1 and "Traceback" not in err
    assert (
        f"the newest 3 records are missing (head says id {last}, last record is {last - 3})" in out
    )
    assert len(out.strip().splitlines()) == 1
    code, report = daena.json("audit", "verify")
    assert code == 1 and isinstance(report, dict) and report["ok"] is False


def test_verify_finds_the_head_row_deleted_too(daena: Daena, db_path: Path) -> None:
    for i in range(5):
        daena("run", "filesystem_read", "--arg", f"path=missing-{i}")
    last = int(newest(db_path)["id"])
    raw_sql(db_path, f"DELETE FROM audit WHERE id > {last - 3}", "DELETE FROM audit_head")
    code, out, _ = daena("audit", "verify")
    assert code == 1 and "head anchor is missing" in out


@pytest.mark.parametrize("mac", ["'0123'", "NULL", "(SELECT hash FROM audit LIMIT 1)"])
def test_verify_finds_the_head_rewritten_without_the_key(
    daena: Daena, db_path: Path, mac: str
) -> None:
    for i in range(5):
        daena("run", "filesystem_read", "--arg", f"path=missing-{i}")
    last = int(newest(db_path)["id"])
    raw_sql(
        db_path,
        f"DELETE FROM audit WHERE id > {last - 3}",
        f"UPDATE audit_head SET last_id = {last - 3}, "
        f"last_hash = (SELECT hash FROM audit WHERE id = {last - 3}), mac = {mac}",
    )
    code, out, _ = daena("audit", "verify")
    assert code == 1 and "head anchor" in out
    # The console keeps working, and the break stays on record.
    assert daena("run", "git_status")[0] == 0
    code, out, _ = daena("audit", "verify")
    assert code == 1 and "head anchor" in out


HOSTILE = ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=x", "\r=x", " =x", "\uff1dx", "\uff20x"]
FORMULA_START = set("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def test_csv_export_opens_safely(daena: Daena, tmp_path: Path) -> None:
    for text in HOSTILE:
        daena("run", "git_status", f"--requester={text}", f"--reason={text}")
        daena("run", f"--arg=k={text}", f"--requester={text}", "--", text)
    target = tmp_path / "audit.csv"
    code, _, err = daena("audit", "export", "--format", "csv", "-o", str(target))
    assert code == 0 and "exported" in err
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    hostile_rows = [r for r in rows if r["actor"].lstrip("'") in HOSTILE]
    assert len(hostile_rows) == 2 * len(HOSTILE)
    for row in rows:
        for column, cell in row.items():
            assert cell[:1] not in FORMULA_START, (column, cell)
            assert cell.lstrip()[:1] not in FORMULA_START or cell.startswith("'"), (column, cell)
    assert {r["actor"] for r in hostile_rows} == {"'" + t for t in HOSTILE}
    assert {r["tool"] for r in hostile_rows if r["status"] == "refused"} == {
        "'" + t for t in HOSTILE
    }
