"""The audit log (docs/security.md, 7): every attempt recorded, secrets redacted, the chain detects
tampering."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from engine import AuditEntry, AuditFilter, Engine
from engine.audit import Redactor
from tests.conftest import make_settings

TOKEN = "tok-9f8e7d6c5b4a"


@pytest.fixture
async def eng_with_secret(workspace: Path, db_path: Path):  # type: ignore[no-untyped-def]
    settings = make_settings(
        workspace, db_path, EXECUTION_TOKEN=TOKEN, WINDOWS_NODE_TOKEN="node-secret-42"
    )
    async with Engine.open(settings) as eng:
        yield eng


async def filled(eng: Engine) -> Engine:
    await eng.run("git_status")
    await eng.run("filesystem_read", {"path": "README.md"})
    await eng.run("filesystem_read", {"path": "../nope"})
    await eng.run("git_status", dry_run=True)
    return eng


async def test_every_attempt_is_recorded_once(eng: Engine) -> None:
    await filled(eng)
    runs = [r for r in await eng.audit.page() if r.action in ("run", "dry_run")]
    assert [r.status for r in reversed(runs)] == ["ok", "ok", "refused", "dry_run"]
    assert all(r.trace_id and r.actor == "operator" for r in runs)
    refused = runs[1]
    assert refused.error and "outside the workspace" in refused.error


async def test_verify_ok_then_detects_modification(eng: Engine) -> None:
    await filled(eng)
    report = await eng.audit.verify()
    assert report.ok and report.checked == await eng.audit.count()
    target = (await eng.audit.page(AuditFilter(status="refused")))[0]
    await eng.db._conn.execute("UPDATE audit SET status = 'ok' WHERE id = ?", (target.id,))
    broken = await eng.audit.verify()
    assert not broken.ok and broken.first_broken_id == target.id
    assert "modified" in (broken.problem or "")


async def test_verify_detects_deletion_and_forged_hash(eng: Engine) -> None:
    await filled(eng)
    ids = [r.id for r in await eng.audit.page()]
    victim = sorted(ids)[2]
    await eng.db._conn.execute("DELETE FROM audit WHERE id = ?", (victim,))
    report = await eng.audit.verify()
    assert not report.ok and report.first_broken_id == victim + 1


async def test_verify_detects_rehashed_row(eng: Engine) -> None:
    """Recomputing one row's own hash still breaks the link of the next one."""
    await filled(eng)
    from engine.audit import _VALUE_FIELDS, _hashed_fields, record_hash

    rec = (await eng.audit.page(AuditFilter(status="refused")))[0]
    values = {k: getattr(rec, k) for k in _VALUE_FIELDS}
    values["status"] = "ok"
    forged = record_hash(rec.prev_hash, _hashed_fields(rec.id, rec.ts, values))
    await eng.db._conn.execute("UPDATE audit SET status='ok', hash=? WHERE id=?", (forged, rec.id))
    report = await eng.audit.verify()
    assert not report.ok and report.first_broken_id == rec.id + 1


async def test_token_redacted_from_args_results_and_errors(
    eng_with_secret: Engine, workspace: Path
) -> None:
    eng = eng_with_secret
    (workspace / "leak.txt").write_text(f"token={TOKEN} and node-secret-42\n")
    result = await eng.run("filesystem_read", {"path": "leak.txt"})
    assert result.status == "ok"
    await eng.run("filesystem_read", {"path": f"../{TOKEN}"})
    await eng.record(
        AuditEntry(
            actor="op",
            action="note",
            status="ok",
            args={"api_key": "abc123", "nested": {"password": "pw"}, "x": TOKEN},
        )
    )
    buffer = io.StringIO()
    await eng.audit.export(buffer, "jsonl")
    dump = buffer.getvalue()
    raw_rows = await eng.db.fetchall("SELECT * FROM audit")
    everything = dump + json.dumps([list(r) for r in raw_rows])
    for secret in (TOKEN, "node-secret-42", "abc123", '"pw"'):
        assert secret not in everything
    assert "***" in dump


def test_redactor_rules() -> None:
    redact = Redactor(["supersecret", "abc"])  # too-short secrets are not used as patterns
    assert redact({"Authorization": "Bearer x", "token": None, "name": "supersecret!"}) == {
        "Authorization": "***",
        "token": None,
        "name": "***!",
    }
    assert redact(["abc", {"auth_token": 5}]) == ["abc", {"auth_token": "***"}]


async def test_export_jsonl_and_csv_round_trip(eng: Engine, tmp_path: Path) -> None:
    await filled(eng)
    total = await eng.audit.count()
    jl = io.StringIO()
    assert await eng.audit.export(jl, "jsonl") == total
    lines = [json.loads(line) for line in jl.getvalue().splitlines()]
    assert [row["id"] for row in lines] == sorted(row["id"] for row in lines)
    assert {"hash", "prev_hash", "time", "args"} <= set(lines[0])
    out = io.StringIO()
    assert await eng.audit.export(out, "csv", AuditFilter(tool="filesystem_read")) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["action"], r["status"]) for r in rows] == [("run", "ok"), ("run", "refused")]


async def test_paging_and_filters(eng: Engine) -> None:
    for _ in range(30):
        await eng.run("git_status", dry_run=True)
    page1 = await eng.audit.page(limit=10)
    page2 = await eng.audit.page(before_id=page1[-1].id, limit=10)
    assert len(page1) == len(page2) == 10 and page1[-1].id > page2[0].id
    assert await eng.audit.count(AuditFilter(status="dry_run")) == 30
    assert await eng.audit.page(AuditFilter(text="100%_no_match")) == []
    by_trace = await eng.audit.page(AuditFilter(text=page1[0].trace_id))
    assert [r.id for r in by_trace] == [page1[0].id]


async def test_prune_keeps_the_chain_verifiable(eng: Engine) -> None:
    await filled(eng)
    records = await eng.audit.page(limit=100)
    cutoff = sorted(r.ts for r in records)[3]
    deleted = await eng.audit.prune(cutoff, "alice")
    assert deleted == 3
    report = await eng.audit.verify()
    assert report.ok, report
    prune = (await eng.audit.page(AuditFilter(action="audit_prune")))[0]
    assert prune.actor == "alice"
    # deleting more old records by hand (not through prune) is still detected
    oldest = (await eng.audit.page(limit=1000))[-1]
    await eng.db._conn.execute("DELETE FROM audit WHERE id = ?", (oldest.id,))
    broken = await eng.audit.verify()
    assert not broken.ok and "missing" in (broken.problem or "")


async def test_runs_that_can_change_something_record_their_start(eng: Engine) -> None:
    await eng.update_config({"approval_mode": "auto", "tool_enabled": {"filesystem_write": True}})
    write = await eng.run("filesystem_write", {"path": "n.txt", "content": "x"})
    read = await eng.run("filesystem_read", {"path": "n.txt"})
    records = await eng.audit.page(limit=20)
    by_trace = {(r.trace_id, r.action) for r in records}
    assert (write.trace_id, "run_start") in by_trace and (write.trace_id, "run") in by_trace
    assert (read.trace_id, "run_start") not in by_trace  # read-only: no start record
    start = next(r for r in records if r.action == "run_start")
    assert start.id < (write.audit_id or 0)


async def test_page_after_an_id_returns_only_newer_records(eng: Engine) -> None:
    for _ in range(5):
        await eng.run("git_status", dry_run=True)
    newest = await eng.audit.page(limit=3)
    newer = await eng.audit.page(after_id=newest[2].id, limit=100)
    assert [r.id for r in newer] == [newest[0].id, newest[1].id]
    assert await eng.audit.page(AuditFilter(status="dry_run"), after_id=newest[0].id) == []
