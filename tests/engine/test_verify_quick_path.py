"""The verify's quick path (orjson) may only confirm a record, never pass a changed one.

A record passes when orjson's text of its fields hashes to the stored hash; otherwise the
canonical encoder decides. These tests hold the argument in `audit_verify.quick_text`: a
text it trusts stands for exactly one record, and a forger who writes a value orjson encodes
as another (a non-finite float is written `null`) is still caught.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from engine import AuditEntry, Engine, Settings
from engine.audit_verify import content_hash, quick_digest, quick_text
from engine.storage.database import dumps
from tests.support.raw_db import raw_db

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # past 64 bits too: orjson refuses them
    st.floats(),  # NaN, infinities, -0.0, exponents
    st.text(),  # lone surrogates, control characters, the word "null"
    st.binary(max_size=4),  # a BLOB a forger stored
)


def typed(values: Any) -> list[tuple[type, str]]:
    """Values compared by type and exact text (repr tells -0.0 from 0.0, 1 from 1.0)."""
    return [(type(v), repr(v)) for v in values]


@given(st.lists(scalars, max_size=15).map(tuple))
@example((math.inf,))
@example((None, -math.inf, "null"))
@example((-0.0, 1, 1.0, 1e16))
def test_a_trusted_quick_text_stands_for_exactly_its_fields(fields: tuple[Any, ...]) -> None:
    text = quick_text(fields)
    if text is not None:
        assert typed(json.loads(text)) == typed(fields)


@given(st.lists(scalars, min_size=13, max_size=13).map(tuple))
def test_the_quick_digest_matches_exactly_when_the_texts_agree(fields: tuple[Any, ...]) -> None:
    prev = "0" * 64
    try:
        canonical = dumps(list(fields))
    except TypeError:  # a BLOB: only the canonical path speaks for it (and refuses it)
        assert quick_text(fields) is None
        return
    text = quick_text(fields)
    if text is not None:
        agree = quick_digest(prev, fields) == content_hash((*fields, prev))
        assert agree == (text == canonical.encode("utf-8", "surrogatepass"))


def test_non_finite_floats_and_the_word_null_are_not_trusted() -> None:
    assert quick_text((None, math.inf)) is None  # orjson writes both as null
    assert quick_text((float("nan"),)) is None
    assert quick_text(("null",)) is None  # refused, not wrong: the canonical path decides
    assert quick_text((None, 1.5, "x")) == b'[null,1.5,"x"]'


@pytest.fixture
def conn(eng: Engine, settings: Settings) -> Iterator[Any]:
    with raw_db(settings) as raw:
        yield raw


async def test_a_null_forged_into_an_infinity_is_found(eng: Engine, conn: Any) -> None:
    await eng.record(AuditEntry(actor="op", action="note", status="ok"))
    assert (await eng.audit.verify()).ok  # a checkpoint: the next verify is incremental
    record_id = await eng.record(AuditEntry(actor="op", action="note", status="ok"))
    conn.execute("UPDATE audit SET duration_ms = ? WHERE id = ?", (math.inf, record_id))
    for incremental in (True, False):
        report = await eng.audit.verify(incremental=incremental)
        assert not report.ok and report.first_broken_id == record_id
        assert "modified" in (report.problem or "")


async def test_a_record_orjson_writes_differently_still_verifies(eng: Engine) -> None:
    # 1e+17 (json) vs 1e17 (orjson), and text with "null" in it: the canonical path decides
    await eng.record(AuditEntry(actor="op", action="note", status="ok", duration_ms=1e17))
    await eng.record(AuditEntry(actor="op", action="note", status="ok", error="null\x7f\u2028"))
    assert (await eng.audit.verify()).ok
    await eng.record(AuditEntry(actor="op", action="note", status="ok", duration_ms=3e20))
    report = await eng.audit.verify(incremental=True)
    assert report.ok and report.extra["mode"] == "incremental", report.problem
