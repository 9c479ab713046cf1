"""Red team, promise 3: the console's secret never reaches an agent through a tool's output.

The git families exclude the console's files by pathspec, but only those present in the
work tree: an operator who once committed `.env`, then deleted it and moved the token to
the environment, still has the live token in history, and `git log -p` or
`git diff HEAD~1` handed it to the agent verbatim. And whatever the route (a commit, a
notes file the operator pasted it in), a known secret in a tool's result went back to an
agent unredacted, although the audit log redacted its own copy. Real git, real engine.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine import Engine
from tests.conftest import make_repo, make_settings

TOKEN = "op-token-5f1d8c0a9b7e4d3c2b1a0f9e8d7c6b5a"


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A repository whose first commit held `.env` with the token, and whose second
    commit deleted it (the token now lives in the environment)."""
    ws = tmp_path / "ws"
    make_repo(ws, {"README.md": "hi\n", ".env": f"EXECUTION_TOKEN={TOKEN}\n"})
    git = ["git", "-C", str(ws), "-c", "user.name=op", "-c", "user.email=op@test"]
    subprocess.run([*git, "rm", "-q", ".env"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "move the token to the environment"], check=True)
    (ws / "notes.txt").write_text(f"remember: the token is {TOKEN}\n")
    return ws


@pytest.fixture
async def eng(history: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    settings = make_settings(
        history,
        tmp_path / "state" / "daena.db",
        EXECUTION_TOKEN=TOKEN,
        SHELL_ALLOWLIST=json.dumps(["git status", "git diff", "git log"]),
    )
    async with Engine.open(settings) as engine:
        await engine.set_tool_enabled("shell_exec", True)
        await engine.update_config({"approval_mode": "auto"})
        yield engine


@pytest.mark.parametrize(
    "command",
    ["git log -p", "git log -p --all", "git diff HEAD~1", "git log --stat -p -- .", "git status"],
)
async def test_a_deleted_env_in_history_never_shows(eng: Engine, command: str) -> None:
    ran = await eng.as_agent("mallory").run("shell_exec", {"command": command})
    assert ran.status == "ok", ran.error
    assert TOKEN[:12] not in json.dumps(ran.result)
    # an operator running the same command sees no .env either (the exclude is in the argv)
    mine = await eng.run("shell_exec", {"command": command})
    assert TOKEN[:12] not in json.dumps(mine.result)


async def test_a_known_secret_in_any_result_is_redacted_for_an_agent(eng: Engine) -> None:
    ran = await eng.as_agent("mallory").run("filesystem_read", {"path": "notes.txt"})
    assert ran.status == "ok", ran.error
    assert ran.result is not None and "remember: the token is" in ran.result["content"]
    assert TOKEN[:12] not in json.dumps(ran.result)
    # the operator's own read is exact
    mine = await eng.run("filesystem_read", {"path": "notes.txt"})
    assert mine.result is not None and TOKEN in mine.result["content"]
