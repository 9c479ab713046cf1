"""Text filters of one or two characters (no trigram can answer them) on both backends: paged
by the bounded scan (`AuditPage.scanned_to`), they find exactly what a plain
case-insensitive "contains" over the searched columns finds, newest first, once each."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import AuditEntry, AuditFilter, Engine, audit_search
from tests.conftest import make_settings

pytestmark = pytest.mark.no_postgres  # each test makes the database it searches
ALPHABET = "aAbBqQzZ_%\\~ 9."
TERMS = ["a", "Q", "qz", "Qz", "zq", "_", "%", "\\", "~", "_9", "a%", " .", "9", "Zb"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    yield request.getfixturevalue("pg_cluster").fresh_database()


def noise(rnd: random.Random, length: int) -> str:
    return "".join(rnd.choice(ALPHABET) for _ in range(length))


async def fill(eng: Engine, count: int) -> None:
    rnd = random.Random(21)
    for i in range(count):
        await eng.record(
            AuditEntry(
                actor=f"op-{noise(rnd, 2)}",
                action="note",
                status="ok",
                tool=rnd.choice([None, "git_status", f"t{noise(rnd, 1)}"]),
                args={"k": noise(rnd, rnd.randint(0, 6))} if i % 3 else {},
                error=noise(rnd, rnd.randint(0, 8)) if i % 2 else None,
                result_summary=noise(rnd, 4) if i % 5 == 0 else None,
            )
        )


async def paged(eng: Engine, text: str, limit: int) -> list[int]:
    """Every match by paging on as a client does: from `scanned_to` when the scan stopped
    short, from the last record when the page was full."""
    found: list[int] = []
    before = None
    for _ in range(10_000):
        page = await eng.audit.page(AuditFilter(text=text), before_id=before, limit=limit)
        found += [r.id for r in page]
        if page.scanned_to is not None:
            before = page.scanned_to
        elif len(page) == limit:
            before = page[-1].id
        else:
            return found
    raise AssertionError("paging did not end")


async def test_short_terms_find_what_a_plain_contains_finds(
    db_url: str | None, workspace: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"DAENA_DB_URL": db_url} if db_url else {}
    async with Engine.open(make_settings(workspace, db_path, **extra)) as eng:
        await fill(eng, 300)
        columns = ", ".join(audit_search.SEARCHED)
        rows = await eng.db.fetchall(f"SELECT id, {columns} FROM audit ORDER BY id DESC")
        monkeypatch.setattr(audit_search, "SHORT_SCAN", 17)  # many bounded pages
        for text in TERMS:
            expected = [
                r["id"]
                for r in rows
                if any(text.lower() in (r[c] or "").lower() for c in audit_search.SEARCHED)
            ]
            assert expected, text  # every term is in the data, so each case proves something
            for limit in (3, 100):
                assert await paged(eng, text, limit) == expected, (text, limit)
        absent = await paged(eng, "Xy", 100)
        assert absent == []
