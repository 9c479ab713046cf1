"""Text filters under three characters: a bounded scan per page that says where it stopped,
so paging on finds every match, in order, exactly once."""

from __future__ import annotations

import time

import pytest

from engine import AuditEntry, AuditFilter, Engine, audit_search


async def notes(eng: Engine, count: int, marked: set[int]) -> list[int]:
    ids = []
    for i in range(count):
        text = f"note {i} Qz" if i in marked else f"note {i}"
        ids.append(await eng.record(AuditEntry(actor="op", action="note", status="ok", error=text)))
    return ids


async def all_pages(eng: Engine, filters: AuditFilter) -> tuple[list[int], int]:
    found: list[int] = []
    before, calls = None, 0
    while True:
        page = await eng.audit.page(filters, before_id=before, limit=3)
        calls += 1
        found += [r.id for r in page]
        if page.scanned_to is not None:
            before = page.scanned_to
        elif len(page) == 3:
            before = page[-1].id
        else:
            return found, calls


async def test_a_rare_short_term_is_found_page_by_page(
    eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_search, "SHORT_SCAN", 10)
    ids = await notes(eng, 60, marked={2, 4, 41, 42, 43, 44})
    first = await eng.audit.page(AuditFilter(text="Qz"), limit=3)
    assert len(first) < 3 and first.scanned_to is not None  # stopped at its bound
    found, calls = await all_pages(eng, AuditFilter(text="qz"))  # case folded as before
    expected = [ids[i] for i in (44, 43, 42, 41, 4, 2)]
    assert found == expected
    assert calls > 3  # it really took several bounded scans


async def test_a_full_page_or_a_scan_to_the_oldest_says_nothing_is_left(
    eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_search, "SHORT_SCAN", 10)
    await notes(eng, 30, marked=set(range(30)))
    full = await eng.audit.page(AuditFilter(text="Qz"), limit=3)
    assert len(full) == 3 and full.scanned_to is None
    monkeypatch.setattr(audit_search, "SHORT_SCAN", 10_000)
    whole = await eng.audit.page(AuditFilter(text="Zq"), limit=3)
    assert whole == [] and whole.scanned_to is None


async def test_a_time_window_bounds_the_scan_too(
    eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_search, "SHORT_SCAN", 10)
    since = time.time()
    ids = await notes(eng, 25, marked={3, 20})
    found, _ = await all_pages(eng, AuditFilter(text="Qz", since=since))
    assert found == [ids[20], ids[3]]


async def test_the_live_tail_is_not_bounded(eng: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_search, "SHORT_SCAN", 5)
    top = await eng.audit.last_id()
    ids = await notes(eng, 12, marked={0, 11})
    fresh = await eng.audit.page(AuditFilter(text="Qz"), after_id=top, limit=100)
    assert [r.id for r in fresh] == [ids[11], ids[0]] and fresh.scanned_to is None
