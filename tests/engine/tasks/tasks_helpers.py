"""Helpers shared by the task tests (imported by conftest.py and the test modules; the
unique module name keeps it apart from other directories' helpers)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import Engine, Settings, load_settings

OPERATOR = "op"
# Starts the crash script on a playbook; returns the process and the task id it printed.
Start = Callable[[str], tuple["subprocess.Popen[str]", str]]


def git(ws: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ws), *args], check=True, capture_output=True, text=True
    ).stdout


def make_git_workspace(base: Path) -> Path:
    ws = base / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(ws)], check=True)
    git(ws, "config", "user.email", "tests@example.com")
    git(ws, "config", "user.name", "Tests")
    (ws / "README.md").write_text("hello\n", encoding="utf-8")
    (ws / "app.py").write_text("def answer():\n    return 41\n", encoding="utf-8")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "initial")
    return ws


def task_settings(tmp: Path, ws: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DAENA_DB_PATH": str(tmp / "daena.db"),
        "EXECUTION_WORKSPACE_ROOT": str(ws),
        "DAENA_OPERATOR": "tester",
        "OLLAMA_BASE_URL": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return load_settings(env_file=None, **values)


def write_playbook(directory: Path, name: str, steps: list[dict[str, Any]], **extra: Any) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"name": name, "description": extra.pop("description", f"test playbook {name}")}
    doc.update(extra)
    doc["steps"] = steps
    (directory / f"{name}.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return name


async def audit_rows(eng: Engine, task_id: str, action: str = "run") -> list[Any]:
    return await eng.db.fetchall(
        "SELECT id, tool, status, approval_id FROM audit WHERE task_id = ? AND action = ? "
        "ORDER BY id",
        (task_id, action),
    )
