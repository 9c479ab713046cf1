"""What opening the engine and listing its tools imports: what that path uses, not the
subsystems it never touches (tasks' runner and planner, agents, credentials, the local
model, voice, the HTTP client). The console waits for exactly this path before its first
section shows (benchmarks/bench_console_start.py, "Tools listed"); each subsystem loads
where it is first used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NOT_ON_THE_PATH = (
    "engine.agents",
    "engine.brain",
    "engine.credentials",
    "engine.voice",
    "engine.tasks.service",
    "engine.tasks.runner",
    "engine.tasks.planner",
    "httpx",
)

OPEN_AND_LIST = """
import asyncio, json, sys
from engine import Engine, load_settings

async def main():
    async with Engine.open(load_settings(env_file=None), watch=True, index_audit=True) as eng:
        assert [t for t in await eng.list_tools() if t.name == "git_status"]
        print(json.dumps(sorted(sys.modules)))
        eng.tasks, eng.voice, eng.brain, eng.credentials, eng.as_agent("a")  # all still there
        print(json.dumps(sorted(sys.modules)))

asyncio.run(main())
"""


def test_open_and_list_tools_import_only_what_they_use(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = {
        **os.environ,
        "DAENA_DB_PATH": str(tmp_path / "daena.db"),
        "EXECUTION_WORKSPACE_ROOT": str(workspace),
        "WINDOWS_NODE_URL": "http://127.0.0.1:9",
    }
    proc = subprocess.run(
        [sys.executable, "-c", OPEN_AND_LIST],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    listed, used = (json.loads(line) for line in proc.stdout.splitlines())
    assert not [m for m in listed if m.startswith(NOT_ON_THE_PATH)]
    assert {"engine.agents", "engine.tasks.service", "engine.voice"} <= set(used)
