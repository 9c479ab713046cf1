"""Security promise 7 against a hostile agent: every attempt audited, secrets redacted from
raw values before any encoding or cut (whatever quotes, backslashes or caps), the newest
records' deletion found by verify; promise 8: the CSV export is safe to open."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import AuditEntry, Engine, RunRequest
from engine.audit import PARTIAL, REDACTED, SUMMARY_CAP, Redactor
from engine.audit_head import RESET_ACTION, key_path
from engine.storage.dialect import is_postgres
from tests.conftest import make_settings
from tests.support.raw_db import raw_db

TOKEN = "tok\"quote\\back'slash-9f8e7d6c"
NODE_TOKEN = "nöde-ŝecret-é☃-42"


def forms(secret: str) -> set[str]:
    """How a secret would look once the engine encoded it, computed independently."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        secret.replace("\\", "\\\\").replace("'", "\\'"),
    }


ALL_FORMS = forms(TOKEN) | forms(NODE_TOKEN)
BEGINNINGS = {form[:PARTIAL] for form in ALL_FORMS}


def stored_texts(db_path: Path) -> list[str]:
    """Every text the audit log and the event feed hold, straight from the database (and
    SQLite's search index, a copy of the text; PostgreSQL's indexes the audit rows)."""
    with raw_db(db_path) as conn:
        texts = [
            str(v)
            for table in ("audit", "events")
            for row in conn.execute(f"SELECT * FROM {table}").fetchall()
            for v in row
            if v is not None
        ]
        if not is_postgres(conn):
            rows = conn.execute("SELECT * FROM audit_search").fetchall()
            texts += [str(v) for row in rows for v in row if v]
    return texts


def assert_no_secret(db_path: Path) -> None:
    for text in stored_texts(db_path):
        for form in ALL_FORMS | BEGINNINGS:
            assert form not in text, (form, text[:300])
    with raw_db(db_path) as conn:
        if is_postgres(conn):  # no index of its own to hold a copy: the rows were read
            return
        for form in ALL_FORMS:  # the search index itself (trigram phrases) knows no secret
            phrase = '"' + form.replace('"', '""') + '"'
            hits = conn.execute(
                "SELECT rowid FROM audit_search WHERE audit_search MATCH ?", (phrase,)
            ).fetchall()
            assert hits == [], form


@pytest.fixture
async def hostile(workspace: Path, db_path: Path) -> AsyncIterator[Engine]:
    settings = make_settings(
        workspace, db_path, EXECUTION_TOKEN=TOKEN, WINDOWS_NODE_TOKEN=NODE_TOKEN
    )
    async with Engine.open(settings) as eng:
        yield eng


async def audit_total(eng: Engine) -> int:
    return await eng.audit.count()


# -- every attempt is audited ------------------------------------------------------------


async def test_every_refusal_path_leaves_one_refused_record(eng: Engine) -> None:
    attempts = [
        RunRequest(tool="no_such_tool", args={"x": 1}),
        RunRequest(tool="filesystem_read", args={"path": 3}),
        RunRequest(tool="filesystem_read", args={"nope": "x"}),
        RunRequest(tool="filesystem_write", args={"path": "a.txt", "content": "x"}),  # disabled
        RunRequest(tool="filesystem_read", args={"path": "../outside"}),
    ]
    for request in attempts:
        before = await audit_total(eng)
        result = await eng.run(request)
        assert result.status == "refused", request
        records = await eng.audit.after(before)
        assert [(r.action, r.status, r.tool) for r in records] == [("run", "refused", request.tool)]
        assert records[0].error == result.error
    await eng.set_tool_enabled("filesystem_write", True)
    await eng.update_config({"approval_mode": "require_approval"})
    before = await audit_total(eng)
    refused = await eng.run(
        RunRequest(
            tool="filesystem_write",
            args={"path": "a.txt", "content": "x"},
            approval_id="grant_forged_by_agent",
        )
    )
    assert refused.status == "refused" and refused.refused_by == "approval"
    records = await eng.audit.after(before)
    assert [(r.status, r.approval_id) for r in records] == [("refused", "grant_forged_by_agent")]
    await eng.update_config({"lockdown": True})
    before = await audit_total(eng)
    assert (await eng.run("git_status")).status == "refused"
    assert [(r.status, r.tool) for r in await eng.audit.after(before)] == [
        ("refused", "git_status")
    ]


async def test_a_refused_inbox_request_is_audited(eng: Engine) -> None:
    before = await audit_total(eng)
    with pytest.raises(Exception, match="unknown tool"):
        await eng.request_approval(RunRequest(tool="no_such_tool", requester="agent:x"))
    records = await eng.audit.after(before)
    assert [(r.action, r.status, r.actor) for r in records] == [("request", "refused", "agent:x")]


async def test_a_refused_grant_consumes_nothing_and_is_audited(eng: Engine) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    await eng.update_config({"approval_mode": "require_approval"})
    grant = await eng.grant("filesystem_write", {"path": "a.txt", "content": "x"})
    before = await audit_total(eng)
    other = await eng.run(
        RunRequest(
            tool="filesystem_write",
            args={"path": "b.txt", "content": "x"},
            approval_id=grant.id,
            requester="agent:x",
        )
    )
    assert other.status == "refused"
    assert [(r.status, r.actor) for r in await eng.audit.after(before)] == [("refused", "agent:x")]
    row = await eng.db.fetchone("SELECT used_at FROM grants WHERE id = ?", (grant.id,))
    assert row is not None and row[0] is None  # the refusal did not use it up


# -- redaction on raw values ----------------------------------------------------------------


async def test_quoted_and_unicode_secrets_are_redacted_in_every_stored_column(
    hostile: Engine, workspace: Path, db_path: Path
) -> None:
    eng = hostile
    (workspace / "leak.txt").write_text(f"a={TOKEN}\nb={NODE_TOKEN}\n")
    assert (await eng.run("filesystem_read", {"path": "leak.txt"})).status == "ok"
    await eng.run("filesystem_read", {"path": f"../{TOKEN}"})  # args and error (repr'd path)
    await eng.run(TOKEN, {"k": NODE_TOKEN})  # an unknown tool named like the token
    await eng.run(RunRequest(tool="git_status", requester=TOKEN, task_id=NODE_TOKEN))
    await eng.run(RunRequest(tool="git_status", approval_id=TOKEN, dry_run=True))
    await eng.record(
        AuditEntry(
            actor="op",
            action="note",
            status="ok",
            args={TOKEN: 1, "nested": [{"x": f"pre{NODE_TOKEN}post"}], "n": json.dumps(TOKEN)},
            error=f"failed: {TOKEN!r} and {json.dumps({'t': NODE_TOKEN})}",
            result_summary=repr({"stderr": TOKEN}),
            trace_id=TOKEN,
        )
    )
    await eng.audit.index_backlog()
    assert_no_secret(db_path)
    out = io.StringIO()
    await eng.audit.export(out, "jsonl")
    for line in out.getvalue().splitlines():
        json.loads(line)  # redaction kept every record readable
    for form in ALL_FORMS:
        assert form not in out.getvalue()
    assert REDACTED in out.getvalue()


async def test_a_secret_cut_by_the_summary_cap_leaves_no_prefix(
    hostile: Engine, workspace: Path, db_path: Path
) -> None:
    """The token straddles the 4,000-character summary cap (and, with a long tail, the
    preview window of long strings) at every position."""
    eng = hostile
    target = workspace / "pad.txt"
    summaries = []
    for tail in (10, 9000):
        for pad in range(SUMMARY_CAP - len("{'content':'") - 45, SUMMARY_CAP + 5):
            target.write_text("x" * pad + TOKEN + "y" * tail)
            result = await eng.run("filesystem_read", {"path": "pad.txt"})
            assert result.status == "ok"
            record = await eng.audit.get(result.audit_id or 0)
            assert record is not None and record.result_summary is not None
            summaries.append(record.result_summary)
    for summary in summaries:
        assert len(summary) <= SUMMARY_CAP + len(REDACTED)
        for form in ALL_FORMS:
            assert form not in summary
            assert not any(summary.endswith(form[:k]) for k in range(1, len(form))), summary[-40:]
    assert_no_secret(db_path)


async def test_what_a_tool_cap_or_a_line_wrap_left_of_a_secret_is_redacted(
    hostile: Engine, workspace: Path, db_path: Path
) -> None:
    """A tool's own output cap or a wrapped line leaves a secret's beginning, not the secret:
    its first characters are redacted wherever they stand, with whatever of it follows."""
    eng = hostile
    cut = TOKEN[: PARTIAL + 3]
    (workspace / "wrapped.txt").write_text(
        f"key: {cut}\n… [truncated 40 characters]\n{json.dumps(TOKEN)[1 : PARTIAL + 6]}\n"
    )
    result = await eng.run("filesystem_read", {"path": "wrapped.txt"})
    assert result.status == "ok"
    await eng.record(AuditEntry(actor="op", action="note", status="error", error=f"x {cut}"))
    assert_no_secret(db_path)
    record = await eng.audit.get(result.audit_id or 0)
    assert record is not None and "[truncated 40 characters]" in (record.result_summary or "")


async def test_credentials_inside_urls_are_redacted(eng: Engine, db_path: Path) -> None:
    urls = [
        "http://alice:s3cr3t-pw@example.com/x",
        "https://ghp_tokenvalue123@github.com/o/r.git",
        "ftp://bob:p@ss@word@host:21/",
        "HTTPS://x-access-token:gho_abcdef@github.com",
    ]
    await eng.run("no_such_fetcher", {"url": urls[0]})
    await eng.record(
        AuditEntry(
            actor="op",
            action="note",
            status="error",
            args={"urls": urls, "cmd": f"git clone {urls[1]}"},
            error=f"clone of {urls[2]} failed; see {urls[3]}",
            result_summary="x" * (SUMMARY_CAP - 20) + "http://carol:longpassword@h",
        )
    )
    texts = "\n".join(stored_texts(db_path))
    for leaked in ("s3cr3t-pw", "ghp_tokenvalue123", "p@ss@word", "ss@word", "gho_abcdef"):
        assert leaked not in texts
    assert "longpa" not in texts  # cut before its '@' by the cap: still hidden
    assert "example.com/x" in texts and "github.com/o/r.git" in texts
    assert "alice" not in texts and "https://***@github.com" in texts


async def test_agent_tokens_are_redacted_though_the_log_never_knew_them(
    eng: Engine, db_path: Path
) -> None:
    """Agent tokens are stored hashed, so the redactor cannot learn them; their shape gives
    them away instead (the public id stays, the secret goes)."""
    token = "daena_agent_0a1b2c3d4e5f_" + "Zx9_-" * 8
    await eng.run("no_such_tool", {"auth": f"Bearer {token}", "h": [token[:-3]]})
    await eng.record(AuditEntry(actor="op", action="note", status="error", error=token))
    texts = "\n".join(stored_texts(db_path))
    assert "Zx9_-Zx9" not in texts and "daena_agent_0a1b2c3d4e5f_***" in texts


secret_text = st.text(
    st.characters(blacklist_characters="*", blacklist_categories=("Cs",)),
    min_size=4,
    max_size=24,
)


@settings(max_examples=300, deadline=None)
@given(
    secret=secret_text,
    before=st.text(max_size=60),
    after=st.text(max_size=60),
    cap=st.integers(min_value=1, max_value=140),
    cut_by_tool=st.integers(min_value=PARTIAL, max_value=24),
)
def test_property_no_secret_survives_encoding_or_any_cut(
    secret: str, before: str, after: str, cap: int, cut_by_tool: int
) -> None:
    redact = Redactor([secret])
    value = {
        "out": before + secret + after,
        secret: [after + secret],
        "n": repr(secret),
        "stderr": f"{before}{secret[:cut_by_tool]}\n… [truncated]",
    }
    encoded = redact.encode(value)
    json.loads(encoded)
    preview = redact.summary(value, cap)
    error = redact.cut(redact.text(f"{before}{secret!r}{after}"), cap)
    for text in (encoded, preview, error):
        for form in forms(secret):
            assert form not in text
            assert len(form) <= PARTIAL or form[:PARTIAL] not in text
    cuts = [
        (preview, len(redact.encode(value)) > cap),
        (error, len(redact.text(f"{before}{secret!r}{after}")) > cap),
    ]
    for text, was_cut in cuts:
        if was_cut:  # a cut leaves no beginning of the secret behind
            for form in forms(secret):
                assert not any(text.endswith(form[:k]) for k in range(1, len(form)))


# -- the newest records ---------------------------------------------------------------------


async def filled(eng: Engine, n: int = 6) -> None:
    for i in range(n):
        await eng.run("filesystem_read", {"path": f"missing-{i}.txt"})


def delete_newest(db_path: Path, n: int) -> int:
    with raw_db(db_path) as conn:
        newest = conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
        conn.execute("DELETE FROM audit WHERE id > ?", (newest - n,))
    return int(newest)


async def test_deleting_the_newest_records_is_found(eng: Engine, db_path: Path) -> None:
    await filled(eng)
    assert (await eng.audit.verify()).ok
    newest = delete_newest(db_path, 3)
    report = await eng.audit.verify()
    assert not report.ok
    assert report.problem == (
        f"the newest 3 records are missing (head says id {newest}, last record is {newest - 3})"
    )
    assert report.first_broken_id == newest - 2
    # The next append records the break in the chain itself; verify keeps reporting it.
    await eng.run("git_status")
    resets = [r for r in await eng.audit.page() if r.action == RESET_ACTION]
    assert len(resets) == 1 and "newest 3 records are missing" in (resets[0].error or "")
    again = await eng.audit.verify()
    assert not again.ok and again.first_broken_id == resets[0].id
    assert "newest 3 records are missing" in (again.problem or "")


async def test_deleting_the_head_row_too_is_found(eng: Engine, db_path: Path) -> None:
    await filled(eng)
    delete_newest(db_path, 3)
    with raw_db(db_path) as conn:
        conn.execute("DELETE FROM audit_head")
    report = await eng.audit.verify()
    assert not report.ok and "head anchor is missing" in (report.problem or "")


@pytest.mark.parametrize("mac", ["f" * 64, None, "forged"])
async def test_rewriting_the_head_without_the_key_is_found(
    eng: Engine, db_path: Path, mac: str | None
) -> None:
    await filled(eng)
    delete_newest(db_path, 3)
    with raw_db(db_path) as conn:
        row = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC").fetchone()
        conn.execute(
            "UPDATE audit_head SET last_id = ?, last_hash = ?, mac = ?", (row[0], row[1], mac)
        )
    report = await eng.audit.verify()
    assert not report.ok
    expected = "not sealed" if mac is None else "does not verify"
    assert expected in (report.problem or "")


async def test_a_record_added_behind_the_log_is_found(eng: Engine, db_path: Path) -> None:
    """A forged record with a correct chain hash (the chain needs no key) is still found."""
    from engine.audit import _hashed_fields, record_hash

    await filled(eng)
    with raw_db(db_path) as conn:
        last_id, last_hash = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC").fetchone()
    values = {
        "actor": "operator",
        "action": "run",
        "tool": "git_status",
        "args": "{}",
        "status": "ok",
        "error": None,
        "duration_ms": 1.0,
        "result_summary": None,
        "trace_id": None,
        "task_id": None,
        "approval_id": None,
    }
    digest = record_hash(last_hash, _hashed_fields(last_id + 1, 1.0, values))
    with raw_db(db_path) as conn:
        conn.execute(
            "INSERT INTO audit VALUES (?, 1.0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (last_id + 1, *values.values(), last_hash, digest),
        )
    report = await eng.audit.verify()
    assert not report.ok and "not written by the audit log" in (report.problem or "")


async def test_the_key_is_private_beside_the_database_and_shared_by_processes(
    settings: object, db_path: Path
) -> None:
    from engine import Settings

    assert isinstance(settings, Settings)
    async with Engine.open(settings) as first, Engine.open(settings) as second:
        for _ in range(5):  # two engines (as two processes would) append in turn
            await first.run("git_status")
            await second.run("git_status")
        assert (await first.audit.verify()).ok and (await second.audit.verify()).ok
    key = key_path(db_path)
    assert key.parent == db_path.parent
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key.unlink()  # losing the key is reported, not ignored
    async with Engine.open(settings) as eng:
        report = await eng.audit.verify()
        assert not report.ok and "key file is missing" in (report.problem or "")


async def test_an_unsealed_head_is_accepted_only_before_any_key_exists(
    settings: object, db_path: Path
) -> None:
    """A database from before the anchor: its head is unsealed and no key exists yet."""
    from engine import Settings

    assert isinstance(settings, Settings)
    async with Engine.open(settings) as eng:
        await filled(eng, 2)
    key_path(db_path).unlink()
    with raw_db(db_path) as conn:
        conn.execute("UPDATE audit_head SET mac = NULL")
    async with Engine.open(settings) as eng:
        assert (await eng.audit.verify()).ok
        await eng.run("git_status")  # the first append makes the key and seals the head
        assert key_path(db_path).exists()
        assert (await eng.audit.verify()).ok
        assert not [r for r in await eng.audit.page() if r.action == RESET_ACTION]


async def test_prune_keeps_both_ends_anchored(eng: Engine, db_path: Path) -> None:
    await filled(eng)
    deleted = await eng.audit.prune(before_ts=10**12, operator="op@test")
    assert deleted > 0 and (await eng.audit.verify()).ok
    await filled(eng, 4)
    delete_newest(db_path, 2)
    report = await eng.audit.verify()
    assert not report.ok and "newest 2 records are missing" in (report.problem or "")


async def test_concurrent_appends_keep_the_head_on_the_newest_record(
    settings: object,
) -> None:
    import asyncio

    from engine import Settings

    assert isinstance(settings, Settings)
    async with Engine.open(settings) as a, Engine.open(settings) as b:

        async def burst(eng: Engine) -> None:
            for _ in range(25):
                await eng.run("git_status", dry_run=True)

        await asyncio.gather(burst(a), burst(b), burst(a), burst(b))
        report = await a.audit.verify()
        assert report.ok, report
        assert not [r for r in await a.audit.page(limit=500) if r.action == RESET_ACTION]


# -- CSV export ----------------------------------------------------------------------------

DANGEROUS = [
    '=HYPERLINK("http://evil","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\n=1",
    "  =1+1",
    "\u3000@x",
    "\uff1d1+1",
    "\uff0b1",
    "\uff0d1",
    "\uff20x",
    # invisible characters before the formula, and the small and minus-sign forms
    "\ufeff=1+1",
    "\u200b=1",
    "\u2060+1",
    "\x00=1",
    "\u00a0=1",
    "\ufe661+1",
    "\u22121",
    "\ufe62x",
    "\ufe63x",
    "\ufe6bx",
]
FORMULA_START = set("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\u2212")


def _first_shown(cell: str) -> str:
    """The first character a spreadsheet would read as the start of a formula."""
    return next((c for c in cell if not (c.isspace() or unicodedata.category(c)[0] == "C")), "")


async def test_csv_export_neutralises_every_dangerous_cell(eng: Engine) -> None:
    for i, text in enumerate(DANGEROUS):
        await eng.run(RunRequest(tool=text, args={text: text}, requester=text, task_id=text))
        await eng.record(
            AuditEntry(
                actor=text,
                action="note",
                status="ok",
                tool=text,
                args=text,
                error=text,
                result_summary=text,
                trace_id=text,
                task_id=text,
                approval_id=f"{text}{i}",
            )
        )
    out = io.StringIO()
    count = await eng.audit.export(out, "csv")
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert len(rows) == count + 1
    checked = 0
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in FORMULA_START, cell
            assert cell[:1] == "'" or _first_shown(cell) not in FORMULA_START, cell
            checked += cell.startswith("'")
    assert checked >= len(DANGEROUS) * 8
    assert out.getvalue().startswith("id,ts,actor,")
    # JSON lines stay exact.
    jl = io.StringIO()
    await eng.audit.export(jl, "jsonl")
    notes = [json.loads(line) for line in jl.getvalue().splitlines()]
    actors = {n["actor"] for n in notes if n["action"] == "note"}
    on_pg = eng.db.dialect == "postgresql"
    stored = [d.replace("\x00", "\ufffd") for d in DANGEROUS] if on_pg else DANGEROUS
    assert actors == set(stored)  # (PostgreSQL's text holds no NUL: engine/storage/dialect.py)


async def test_no_tool_reaches_the_head_key_even_inside_the_workspace(workspace: Path) -> None:
    """The zero-config layout with the database in the workspace: the key beside it is one
    of the console's own files, by name and by identity (a hard link)."""
    db = workspace / "daena.db"
    async with Engine.open(make_settings(workspace, db)) as eng:
        await eng.run("git_status")
        key = key_path(db)
        assert key.exists()
        (workspace / "innocent.txt").unlink(missing_ok=True)
        os.link(key, workspace / "innocent.txt")
        for path in (key.name, "innocent.txt", "DAENA.DB.AUDIT-KEY"):
            result = await eng.run("filesystem_read", {"path": path})
            assert result.status == "refused", (path, result)
            assert "console's own files" in (result.error or ""), result.error
        await eng.set_tool_enabled("filesystem_write", True)
        written = await eng.run(
            RunRequest(
                tool="filesystem_write",
                args={"path": key.name, "content": "0" * 64},
                approval_id=(
                    await eng.grant("filesystem_write", {"path": key.name, "content": "0" * 64})
                ).id,
            )
        )
        assert written.status == "refused"
        assert key.read_bytes().strip() != b"0" * 64
        assert (await eng.audit.verify()).ok


@pytest.mark.no_postgres  # builds a SQLite file at an old schema (PostgreSQL never had it)
async def test_a_database_from_before_the_anchor_is_migrated_and_sealed(
    workspace: Path, db_path: Path
) -> None:
    from engine.audit import GENESIS, _hashed_fields, record_hash
    from engine.storage import database

    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    for number, script in enumerate(database.MIGRATIONS[:6], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    prev = GENESIS
    for i in range(1, 11):
        ordered: dict[str, object] = {
            "actor": "old",
            "action": "note",
            "tool": None,
            "args": None,
            "status": "ok",
            "error": None,
            "duration_ms": None,
            "result_summary": None,
            "trace_id": None,
            "task_id": None,
            "approval_id": None,
        }
        digest = record_hash(prev, _hashed_fields(i, 1000.0 + i, ordered))
        conn.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (i, 1000.0 + i, *ordered.values(), prev, digest),
        )
        prev = digest
    conn.close()
    settings = make_settings(workspace, db_path)
    async with Engine.open(settings) as eng:
        assert (await eng.audit.verify()).ok
        await eng.run("git_status")
        assert key_path(db_path).exists()
        report = await eng.audit.verify()
        assert report.ok and report.checked >= 11
    delete_newest(db_path, 1)
    async with Engine.open(settings) as eng:
        assert not (await eng.audit.verify()).ok


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=6))
def test_property_no_csv_cell_opens_as_a_formula(cells: list[str]) -> None:
    from engine.audit import neutralise_cell

    out = io.StringIO()
    csv.writer(out).writerow([neutralise_cell(c) for c in cells])
    (row,) = list(csv.reader(io.StringIO(out.getvalue())))
    assert len(row) == len(cells)
    for original, cell in zip(cells, row, strict=True):
        assert cell in (original, "'" + original)  # nothing but the quote is changed
        if cell[:1] in FORMULA_START or cell.lstrip()[:1] in FORMULA_START:
            raise AssertionError(cell)


async def test_pruning_past_a_recorded_break_clears_it(eng: Engine, db_path: Path) -> None:
    """The break stays until the operator prunes the records it concerns (audited)."""
    await filled(eng)
    delete_newest(db_path, 2)
    await eng.run("git_status")  # writes the reset record, then its own
    assert not (await eng.audit.verify()).ok
    assert await eng.audit.prune(before_ts=10**12, operator="op@test") > 0
    report = await eng.audit.verify()
    assert report.ok, report
    assert (await eng.audit.page())[0].action == "audit_prune"
