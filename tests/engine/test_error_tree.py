"""Every EngineError subclass lives in engine.errors and appears in its docstring tree, at
the place its base says: the tree in the docstring cannot drift from the code."""

from __future__ import annotations

import importlib
import pkgutil
import re

import engine
import engine.errors
from engine.errors import EngineError


def _import_every_engine_module() -> None:
    """Subclasses defined anywhere in the engine must be loaded to be found."""
    for info in pkgutil.walk_packages(engine.__path__, "engine."):
        importlib.import_module(info.name)


def _subclasses(cls: type[EngineError]) -> list[type[EngineError]]:
    found: list[type[EngineError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _documented_tree() -> dict[str, str | None]:
    """class name → its parent, as the docstring's indented tree draws it."""
    doc = engine.errors.__doc__ or ""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.fullmatch(r"( *)[*+-] (\w+)", line)
        if match is None:
            continue
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_every_engine_error_lives_in_engine_errors() -> None:
    _import_every_engine_module()
    elsewhere = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _subclasses(EngineError)
        if cls.__module__ != "engine.errors"
    ]
    assert elsewhere == []


def test_the_docstring_tree_is_the_class_tree() -> None:
    _import_every_engine_module()
    documented = _documented_tree()
    actual: dict[str, str | None] = {"EngineError": None}
    for cls in _subclasses(EngineError):
        if cls.__module__ == "engine.errors":
            actual[cls.__name__] = cls.__bases__[0].__name__
    assert documented == actual


def test_every_error_says_when_it_is_raised() -> None:
    classes: list[type[EngineError]] = [EngineError, *_subclasses(EngineError)]
    for cls in classes:
        if cls.__module__ == "engine.errors":
            assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring"


def test_the_tree_parser_sees_a_wrong_parent() -> None:
    """The check above can fail: a tree with a class under the wrong parent differs."""
    original = engine.errors.__doc__
    try:
        engine.errors.__doc__ = (original or "").replace(
            "  + InputError\n    - TaskStateError", "  + InputError\n  + TaskStateError"
        )
        assert _documented_tree()["TaskStateError"] == "EngineError"
    finally:
        engine.errors.__doc__ = original
