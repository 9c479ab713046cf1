"""The git tools' catalogue entries load without pygit2; their implementation loads on the
first run, with libgit2 hardened (engine/safety/git_repo.py) before it opens anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, json, os, sys
from engine import Engine, load_settings
from engine.tools.registry import ToolRegistry

names = [spec.name for spec in ToolRegistry.default().all()]
loaded_with_catalogue = "pygit2" in sys.modules

async def main():
    settings = load_settings(env_file=None, execution_workspace_root=sys.argv[1],
                             daena_db_path=sys.argv[2])
    async with Engine.open(settings) as eng:
        listed = "pygit2" in sys.modules
        result = await eng.run("git_status")
    import pygit2
    from pygit2.enums import ConfigLevel
    return {
        "names": names,
        "loaded_with_catalogue": loaded_with_catalogue,
        "loaded_by_open": listed,
        "status": result.status,
        "branch": (result.result or {}).get("branch"),
        "global_config": pygit2.settings.search_path[ConfigLevel.GLOBAL],
        "devnull": os.devnull,
    }

print(json.dumps(asyncio.run(main())))
"""


def test_git_tools_are_listed_without_pygit2_and_run_hardened(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(workspace)], check=True)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(workspace), str(tmp_path / "d.db")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"git_status", "git_diff", "apply_patch", "git_log", "git_show"} <= set(seen["names"])
    assert not seen["loaded_with_catalogue"] and not seen["loaded_by_open"]
    assert seen["status"] == "ok" and seen["branch"] == "main"
    assert seen["global_config"] == seen["devnull"]  # hardened before the repository opened
