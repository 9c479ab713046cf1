"""DESIGN.md boundaries: the engine never loads the UI.

(`rich` is not checked: httpx imports it for its own command line when it is installed.)
"""

from __future__ import annotations

import subprocess
import sys


def test_engine_does_not_load_textual() -> None:
    code = (
        "import sys, engine, engine.engine, engine.runs;"
        "ui = ('textual', 'daena_tui', 'node_server');"
        "bad = [m for m in sys.modules if m.split('.')[0] in ui];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve_and_load_lazily() -> None:
    """Every name in `engine.__all__` resolves; settings alone do not load the engine."""
    code = (
        "import sys, engine;"
        "from engine import load_settings;"
        "lazy = 'engine.engine' not in sys.modules and 'engine.tools.registry' not in sys.modules;"
        "missing = [n for n in engine.__all__ if getattr(engine, n, None) is None];"
        "print(lazy, missing)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True []"


def test_console_first_frame_needs_no_engine_or_settings_import() -> None:
    """`daena` draws its first frame before pydantic-settings or the engine load."""
    code = (
        "import sys; from daena_tui.cli import parse; from daena_tui.console.app import create_app;"
        "create_app(lambda: None);"
        "print(sorted(m for m in ('pydantic_settings', 'engine.engine', 'engine.settings')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
