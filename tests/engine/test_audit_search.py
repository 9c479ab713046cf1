"""Text search over the audit log (engine/audit_search.py): the trigram index plus the scan of
records newer than its watermark must give exactly what a plain "contains" scan gives."""

from __future__ import annotations

import asyncio
import io
import random
import sqlite3
from pathlib import Path

import pytest

from engine import (
    AuditEntry,
    AuditFilter,
    AuditRecord,
    Engine,
    InputError,
    StorageError,
    audit_search,
)
from engine.storage import database
from tests.conftest import make_settings
from tests.support.audit_index import assert_search_index_exact

WORDS = [
    "alpha",
    "Beta",
    "gam_ma",
    "del%ta",
    "épsilon",
    'say "hi"',
    "back\\slash",
    "NEAR(x y)",
    "x AND y",
    "OR",
    "star*",
    "-minus",
    "col:val",
    "^caret",
    "src/module_42.py",
    "tab\there",
]


def phrase(rnd: random.Random) -> str:
    return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 3)))


async def fill(eng: Engine, n: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    for i in range(n):
        await eng.audit.record(
            AuditEntry(
                actor=rnd.choice(["alice@ops", "agent:planner"]),
                action="run",
                status=rnd.choice(["ok", "error"]),
                tool=rnd.choice(["git_status", "shell_exec"]),
                args={"path": phrase(rnd), "n": i},
                error=phrase(rnd) if rnd.random() < 0.3 else None,
                result_summary=phrase(rnd) if rnd.random() < 0.5 else None,
                trace_id=f"{rnd.getrandbits(64):016x}",
            )
        )


def contains(record: AuditRecord, needle: str) -> bool:
    """The meaning of a text filter, written out plainly: any searched column contains it,
    ignoring case."""
    values = (record.args, record.error, record.result_summary, record.tool, record.actor)
    return any(needle.lower() in v.lower() for v in (*values, record.trace_id) if v)


async def everything(eng: Engine) -> list[AuditRecord]:
    return [r async for r in eng.audit.iterate()]


def needles(records: list[AuditRecord], count: int) -> list[str]:
    """Substrings of stored values (1-9 characters, case flipped at random), plus misses."""
    rnd = random.Random(5)
    found: list[str] = ["zzz-no-such-text", "q", "ü"]
    while len(found) < count:
        rec = rnd.choice(records)
        value = rnd.choice(
            [v for v in (rec.args, rec.error, rec.result_summary, rec.trace_id) if v]
        )
        size = rnd.randint(1, 9)
        start = rnd.randrange(max(1, len(value) - size))
        needle = value[start : start + size]
        if needle.strip():
            found.append(needle.swapcase() if needle.isascii() and rnd.random() < 0.3 else needle)
    return found


async def watermark(eng: Engine) -> int:
    return await eng.db.read(audit_search.watermark)


async def test_search_agrees_with_a_plain_scan_on_both_sides_of_the_watermark(eng: Engine) -> None:
    await fill(eng, 700)
    records = await everything(eng)
    mark = await watermark(eng)
    # some records are indexed, the newest are not (PostgreSQL: pg_trgm covers every record)
    assert 0 < mark < records[-1].id or mark == audit_search.NO_INDEX
    for needle in needles(records, 80):
        expected = [r.id for r in reversed(records) if contains(r, needle)]
        flt = AuditFilter(text=needle)
        assert [r.id for r in await eng.audit.page(flt, limit=10_000)] == expected, needle
        assert await eng.audit.count(flt) == len(expected), needle
        assert [r.id async for r in eng.audit.iterate(flt, batch=50)] == expected[::-1], needle


async def test_keyset_pages_cross_the_watermark_without_gaps_or_repeats(eng: Engine) -> None:
    await fill(eng, 700)
    records = await everything(eng)
    flt = AuditFilter(text="alpha", tool="shell_exec")
    expected = [r.id for r in reversed(records) if contains(r, "alpha") and r.tool == "shell_exec"]
    seen: list[int] = []
    before = None
    while page := await eng.audit.page(flt, before_id=before, limit=7):
        seen += [r.id for r in page]
        before = page[-1].id
    assert seen == expected
    newer = await eng.audit.page(flt, after_id=expected[5], limit=100)
    assert [r.id for r in newer] == expected[:5]


@pytest.mark.parametrize(
    "needle",
    [
        '"',
        '""',
        'say "hi"',
        "x AND y",
        "OR",
        "NEAR(x y)",
        "star*",
        "-minus",
        "col:val",
        "^caret",
        "del%ta",
        "gam_ma",
        "back\\slash",
        "%",
        "_",
        "\\",
        "tab\there",
        "(",
        "épsilon",
    ],
)
async def test_search_syntax_in_a_term_is_literal(eng: Engine, needle: str) -> None:
    await fill(eng, 300)
    records = await everything(eng)
    expected = [r.id for r in reversed(records) if contains(r, needle)]
    assert [r.id for r in await eng.audit.page(AuditFilter(text=needle), limit=1000)] == expected


@pytest.mark.no_postgres  # SQLite's FTS5 index and its watermark
async def test_records_are_indexed_in_batches_by_the_append_that_reaches_one(
    eng: Engine,
) -> None:
    await fill(eng, 600)
    top = await eng.audit.last_id()
    assert await watermark(eng) == top - top % audit_search.INDEX_BATCH
    await assert_search_index_exact(eng)


@pytest.mark.no_postgres  # SQLite's FTS5 index and its watermark
async def test_a_backlog_is_searched_by_scan_then_indexed(eng: Engine) -> None:
    await fill(eng, 400)
    await eng.db.write(
        lambda stx: (
            stx.execute("INSERT INTO audit_search (audit_search) VALUES ('delete-all')"),
            stx.execute("UPDATE audit_search_state SET indexed_through = 0"),
        )
    )
    records = await everything(eng)
    expected = [r.id for r in reversed(records) if contains(r, "module_42")]
    assert expected
    assert [
        r.id for r in await eng.audit.page(AuditFilter(text="module_42"), limit=999)
    ] == expected
    assert await eng.audit.index_backlog() == records[-1].id
    assert await watermark(eng) == records[-1].id
    assert [
        r.id for r in await eng.audit.page(AuditFilter(text="module_42"), limit=999)
    ] == expected
    await assert_search_index_exact(eng)


@pytest.mark.no_postgres  # SQLite's FTS5 index and its watermark
async def test_a_long_lived_engine_indexes_the_backlog_in_the_background(
    workspace: Path, db_path: Path
) -> None:
    settings = make_settings(workspace, db_path)
    async with Engine.open(settings) as eng:
        await fill(eng, 300)
        await eng.db.write(
            lambda stx: stx.execute("UPDATE audit_search_state SET indexed_through = 0")
        )
        await eng.db.write(
            lambda stx: stx.execute("INSERT INTO audit_search (audit_search) VALUES ('delete-all')")
        )
    async with Engine.open(settings, index_audit=True) as eng:
        top = await eng.audit.last_id()
        for _ in range(500):
            if await watermark(eng) == top:
                break
            await asyncio.sleep(0.01)
        assert await watermark(eng) == top
        await assert_search_index_exact(eng)


async def test_pruned_records_leave_the_index(eng: Engine) -> None:
    await fill(eng, 600)
    records = await everything(eng)
    cutoff = records[300].ts
    deleted = await eng.audit.prune(cutoff, "op@test")
    assert deleted >= 300
    kept = [r for r in await everything(eng) if r.action == "run"]
    assert kept and kept[0].id == records[300].id
    hits = await eng.audit.page(AuditFilter(text="alpha"), limit=10_000)
    assert hits and all(r.id >= records[300].id for r in hits)
    await assert_search_index_exact(eng)
    assert (await eng.audit.verify()).ok


async def test_reindex_repairs_the_index_after_records_were_edited(eng: Engine) -> None:
    await fill(eng, 300)
    target = (await everything(eng))[10].id
    await eng.db.write(
        lambda stx: stx.execute("UPDATE audit SET error = 'edited-by-hand' WHERE id = ?", (target,))
    )
    assert await eng.audit.reindex() == await eng.audit.last_id()
    hits = await eng.audit.page(AuditFilter(text="edited-by-hand"))
    assert [r.id for r in hits] == [target]
    await assert_search_index_exact(eng)
    assert not (await eng.audit.verify()).ok  # the search index never hides tampering


@pytest.mark.no_postgres  # SQLite's FTS5 index and its watermark
async def test_a_database_from_before_the_index_is_migrated_and_searchable(
    workspace: Path, db_path: Path
) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    for number, script in enumerate(database.MIGRATIONS[:3], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.executemany(
        "INSERT INTO audit (id, ts, actor, action, tool, args, status, prev_hash, hash) "
        "VALUES (?, ?, 'old', 'run', 'git_status', ?, 'ok', '', '')",
        [(i, 1000.0 + i, f'{{"path":"old_{i}.py"}}') for i in range(1, 1001)],
    )
    conn.close()
    async with Engine.open(make_settings(workspace, db_path)) as eng:
        hits = await eng.audit.page(AuditFilter(text="old_99"), limit=100)
        assert {r.id for r in hits} >= {99, 990, 999}
        await eng.audit.index_backlog()
        assert [r.id for r in await eng.audit.page(AuditFilter(text="old_99"), limit=100)] == [
            r.id for r in hits
        ]


@pytest.mark.no_postgres  # SQLite's FTS5 index and its watermark
async def test_a_sqlite_without_the_trigram_tokenizer_is_a_clear_error(
    workspace: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [*database.MIGRATIONS]
    broken[3] = broken[3].replace("'trigram'", "'no_such_tokenizer'")
    monkeypatch.setattr(database, "MIGRATIONS", broken)
    with pytest.raises(StorageError, match="FTS5 trigram tokenizer"):
        async with Engine.open(make_settings(workspace, db_path)):
            pass


async def test_export_with_a_text_filter_uses_the_same_search(eng: Engine) -> None:
    await fill(eng, 500)
    records = await everything(eng)
    expected = [r.id for r in records if contains(r, "épsilon")]
    out = io.StringIO()
    assert await eng.audit.export(out, "jsonl", AuditFilter(text="épsilon")) == len(expected)


def test_the_python_filter_agrees_with_the_query() -> None:
    rec = AuditRecord(
        1,
        5.0,
        "alice@ops",
        "run",
        "git_status",
        '{"p":"Alpha"}',
        "ok",
        None,
        None,
        "x",
        "t1",
        None,
        None,
        "",
        "",
    )
    assert AuditFilter(text="alpha").matches(rec)
    assert not AuditFilter(text="alpha", since=6.0).matches(rec)
    assert not AuditFilter(text='pha"}x').matches(rec)  # never across columns
    assert AuditFilter(tool="git_status", actor="alice@ops", until=6.0).matches(rec)


def test_a_nul_in_the_text_filter_is_refused_by_name() -> None:
    with pytest.raises(InputError, match="text: must not contain a NUL"):
        AuditFilter(text="a\x00b")


@pytest.mark.parametrize("probe", [7, audit_search.WINDOW_PROBE])
@pytest.mark.parametrize("ordered", [True, False])
async def test_time_windows_give_exactly_the_records_in_them_whatever_the_clock_did(
    eng: Engine, monkeypatch: pytest.MonkeyPatch, probe: int, ordered: bool
) -> None:
    """Time bounds become id bounds (`id_window`); times that do not rise with ids (a clock
    set back) must not lose or add a record, whether or not a side fits the probe."""
    monkeypatch.setattr(audit_search, "WINDOW_PROBE", probe)
    await fill(eng, 400)
    rnd = random.Random(3)
    await eng.db.write(
        lambda stx: stx.conn.executemany(
            "UPDATE audit SET ts = ? WHERE id = ?",
            [(1000.0 + rnd.randrange(400) + (0 if i % 9 else 500), i) for i in range(1, 420)],
        )
    )
    if ordered:  # the time order checked afresh for the rewritten times (they never change)
        await eng.db.write(
            lambda stx: (
                stx.execute("UPDATE audit_search_state SET ordered_through = 0, max_ts = NULL"),
                stx.execute("DELETE FROM audit_clock_steps"),
            )
        )
        await eng.audit.index_backlog()
    else:  # not checked yet: the bounded probe answers
        await eng.db.write(
            lambda stx: stx.execute("UPDATE audit_search_state SET ordered_through = 0")
        )
    records = await everything(eng)
    times = sorted(r.ts for r in records)
    for since, until, text in [
        (times[380], None, None),
        (None, times[15], None),
        (times[100], times[140], "alpha"),
        (None, times[30], "Beta"),
        (times[390], None, "x AND y"),
        (times[0] - 1, times[-1] + 1, "q"),
        (times[-1] + 1, None, None),  # nothing that late
        (None, times[0], "alpha"),  # nothing that early
    ]:
        flt = AuditFilter(since=since, until=until, text=text)
        expected = [
            r.id
            for r in reversed(records)
            if (since is None or r.ts >= since)
            and (until is None or r.ts < until)
            and (text is None or contains(r, text))
        ]
        assert [r.id for r in await eng.audit.page(flt, limit=1000)] == expected, flt
        assert await eng.audit.count(flt) == len(expected), flt
        assert [r.id async for r in eng.audit.iterate(flt, batch=9)] == expected[::-1], flt
