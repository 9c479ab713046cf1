"""The schema's "not blank" and "surrounding space" agree with the server's `str.strip`
for every code point, under both regex engines that read them: pydantic's (Rust, the
server's own validation) and Python's `re` (what schemathesis generates from). A character
the schema calls text but `strip` removes reached the engine as an empty goal (a 422 the
schema did not document: the fuzz test's flake)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, ValidationError

from daena_tui.api.models import NOT_BLANK, SPACE

CODE_POINTS = [chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]


class _NotBlank(BaseModel):
    value: str = Field(pattern=NOT_BLANK)


class _Spaced(BaseModel):
    value: str = Field(pattern=rf"^x{SPACE}$")


def _accepts(model: type[BaseModel], value: str) -> bool:
    try:
        model(value=value)
    except ValidationError:
        return False
    return True


def test_not_blank_is_what_strip_leaves() -> None:
    wrong = [
        hex(ord(c))
        for c in CODE_POINTS
        if not bool(c.strip()) == bool(re.search(NOT_BLANK, c)) == _accepts(_NotBlank, c)
    ]
    assert wrong == []


def test_space_is_what_strip_removes() -> None:
    wrong = [
        hex(ord(c))
        for c in CODE_POINTS
        if not (c.strip() == "") == bool(re.fullmatch(SPACE, c)) == _accepts(_Spaced, "x" + c)
    ]
    assert wrong == []


def test_information_separators_are_blank_goals() -> None:
    for c in "\x1c\x1d\x1e\x1f":
        assert not _accepts(_NotBlank, c)
