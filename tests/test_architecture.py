"""The layers of docs/architecture.md hold, statically and at run time.

Statically: the import-linter contracts in `.importlinter` (every import, lazy ones too), run
on this checkout, and run on a small tree that breaks each of them, so a contract that could
never fail would be noticed. At run time: what a surface really loads (`rich` is not checked
for the engine: httpx imports it for its own command line when it is installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONSOLE_ONLY = ("textual", "rich", "pygit2", "aiosqlite", "ollama", "soundfile", "bs4")


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(CONTRACTS)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_checkout_keeps_every_contract() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _write(root: Path, module: str, body: str = "") -> None:
    path = root.joinpath(*module.split("."))
    path.mkdir(parents=True, exist_ok=True)
    (path / "__init__.py").write_text(body)


def test_each_contract_catches_its_violation(tmp_path: Path) -> None:
    """A tree named like ours in which each layer does what its contract forbids."""
    _write(tmp_path, "engine", "import textual\nimport daena_http\n")
    _write(tmp_path, "daena_http", "import starlette\nimport daena_tui\n")
    _write(tmp_path, "node_server", "import fastapi\n\n\ndef run():\n    import pygit2\n")
    _write(tmp_path, "daena_tui", "import rich\n")
    _write(tmp_path, "daena_tui.console")
    _write(tmp_path, "daena_tui.console.widgets")
    _write(tmp_path, "daena_tui.console.screens", "import daena_tui.console.widgets\n")
    _write(tmp_path, "daena_tui.console.app", "import daena_tui.console.screens\n")
    _write(tmp_path, "daena_tui.cli", "import uvicorn\n\n\ndef go():\n    import engine\n")
    _write(tmp_path, "daena_tui.cli.dispatch", "import daena_tui.console.screens\n")
    _write(tmp_path, "daena_tui.api", "def serve():\n    import daena_tui.console.app\n")
    _write(tmp_path, "daena_tui.mcp", "import textual\n")
    done = lint_imports(tmp_path, pythonpath=tmp_path)
    out = " ".join(done.stdout.split())
    assert done.returncode == 1, out + done.stderr
    assert "0 kept, 6 broken" in out, out
    for shown in (
        "engine is not allowed to import textual",
        "engine is not allowed to import daena_http",
        "daena_http is not allowed to import daena_tui",
        "node_server is not allowed to import pygit2",  # a lazy import counts
        "daena_tui.cli is not allowed to import daena_tui.console.screens",
        "daena_tui.api is not allowed to import daena_tui.console",
        "daena_tui.mcp is not allowed to import textual",
    ):
        assert shown in out, shown


def test_cli_may_start_the_console_through_its_app_alone(tmp_path: Path) -> None:
    """`daena` with no subcommand imports `daena_tui.console.app` (which loads the screens):
    that indirect path is allowed, a direct import of a screen is not (test above)."""
    for module in ("engine", "daena_http", "node_server", "daena_tui", "daena_tui.console"):
        _write(tmp_path, module)
    for module in ("daena_tui.api", "daena_tui.mcp"):
        _write(tmp_path, module, "import engine\n")
    _write(tmp_path, "daena_tui.console.widgets")
    _write(tmp_path, "daena_tui.console.screens", "import daena_tui.console.widgets\n")
    _write(tmp_path, "daena_tui.console.app", "import daena_tui.console.screens\n")
    _write(tmp_path, "daena_tui.cli", "def start():\n    import daena_tui.console.app\n")
    done = lint_imports(tmp_path, pythonpath=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def _loaded_after(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def test_engine_does_not_load_textual() -> None:
    code = (
        "import sys, engine, engine.engine, engine.runs;"
        "ui = ('textual', 'daena_tui', 'node_server', 'daena_http', 'starlette', 'fastapi');"
        "print(*[m for m in sys.modules if m.split('.')[0] in ui])"
    )
    assert _loaded_after(code) == []


def test_node_server_loads_nothing_of_the_console(tmp_path: Path) -> None:
    """The node's command line and its app, built, load none of the console's packages (the
    slim node install, packaging/node, does not have them)."""
    code = (
        "import sys; from node_server.__main__ import build_parser; build_parser();"
        "from node_server.app import create_app;"
        "from node_server.settings import load_node_settings;"
        f"create_app(load_node_settings(env_file=None, workspace_root={str(tmp_path)!r}));"
        f"print(*[m for m in sys.modules if m.split('.')[0] in {CONSOLE_ONLY!r} + ('daena_tui',)])"
    )
    assert _loaded_after(code) == []


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
