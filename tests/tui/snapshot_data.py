"""Fixed data for the console's SVG snapshots: seeded through the real engine, then the
random and time-dependent columns (ids, timestamps, trace ids, durations) are rewritten to
fixed values, and the console gets a frozen clock in UTC. Nothing here depends on the day,
the machine, the user or the tmp path: MODELS_ROOT is a fixed fake path, the database is
given relative to the test's own cwd (so paths derived from it, like the voice files dir,
read `data/voice`), Ollama is asked on a closed port, and no node is probed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path

import engine
from daena_tui.console.app import DaenaApp, create_app
from daena_tui.console.clock import Clock

from .conftest import settings_for

T0 = 4_102_444_800.0  # 2100-01-01 00:00:00 UTC: far enough ahead that requests stay pending
NOW = T0 + 600
# Long enough to be cut with an ellipsis in the inbox at 80 and at 120 columns.
LONG_REASON = (
    "fix the title of the README so that the workspace says what it is and who manages it, "
    "as the operator asked in the planning notes of last week"
)
PATCH = """--- a/README.md
+++ b/README.md
@@ -1 +1,3 @@
-# demo
+# Demo workspace
+
+Managed by Daena.
"""


async def _seed(settings: engine.Settings) -> None:
    async with engine.Engine.open(settings) as eng:
        await eng.set_tool_enabled("filesystem_write", True)
        await eng.set_tool_enabled("apply_patch", True)
        await eng.run(engine.RunRequest(tool="git_status"))
        await eng.run(engine.RunRequest(tool="filesystem_read", args={"path": "missing.txt"}))
        plan = {
            "path": "notes/plan.md",
            "content": "# Plan\n\n1. Read the repo\n",
            "create_dirs": True,
        }
        await eng.run(
            engine.RunRequest(
                tool="filesystem_write", args=plan, requester="agent", reason="save the plan"
            )
        )
        await eng.run(
            engine.RunRequest(
                tool="apply_patch",
                args={"patch": PATCH},
                requester="agent",
                reason=LONG_REASON,
            )
        )
        await eng.run(
            engine.RunRequest(
                tool="filesystem_write",
                args={"path": "x", "content": "y"},
                requester="agent",
                reason="scratch file",
            )
        )
        denied = (await eng.approvals.list("pending"))[-1]
        await eng.deny(denied.id, "not needed")


def _normalise(db: Path) -> None:
    con = sqlite3.connect(db)
    with con:
        requests = con.execute(
            "SELECT id, tool FROM approval_requests ORDER BY created_at"
        ).fetchall()
        timing = {0: (300, 1800), 1: (360, 600), 2: (420, 1800)}
        for n, (old, _tool) in enumerate(requests):
            new = f"req_{n + 1:04d}"
            created, ttl = timing[n]
            con.execute(
                "UPDATE approval_requests SET id = ?, created_at = ?, expires_at = ?, trace_id = ?,"
                " decided_at = CASE WHEN decided_at IS NULL THEN NULL ELSE ? END WHERE id = ?",
                (new, T0 + created, T0 + created + ttl, f"trace{n + 1:04d}", T0 + 500, old),
            )
            con.execute("UPDATE audit SET approval_id = ? WHERE approval_id = ?", (new, old))
        con.execute(
            "UPDATE audit SET ts = ? + id * 30, trace_id = CASE WHEN trace_id IS NULL THEN NULL"
            " ELSE printf('trace%04d', id) END, duration_ms = CASE WHEN duration_ms IS NULL"
            " THEN NULL ELSE 7.0 END",
            (T0,),
        )
        con.execute("UPDATE nodes SET created_at = ?, updated_at = ?", (T0, T0))
    con.close()


MODELS_ROOT = "/srv/daena/models"
DB_PATH = Path("data") / "daena.db"  # relative to the cwd, a tmp dir (see conftest)


def snapshot_app(
    workspace: Path,
    section: str,
    settings_update: dict[str, object] | None = None,
    extra: Callable[[engine.Settings], Awaitable[None]] | None = None,
) -> DaenaApp:
    """The console on the fixed data; `settings_update` changes settings (an Ollama URL);
    `extra` seeds more (fixed) data after the common seed, before the normalising."""
    settings = settings_for(DB_PATH, workspace, MODELS_ROOT=MODELS_ROOT)
    if settings_update:
        settings = settings.model_copy(update=settings_update)
    asyncio.run(_seed(settings))
    if extra is not None:
        asyncio.run(extra(settings))
    _normalise(settings.daena_db_path)
    return _app(settings, section)


async def seeded_app(workspace: Path, section: str) -> DaenaApp:
    """`snapshot_app` for a test that already runs in an event loop."""
    settings = settings_for(DB_PATH, workspace, MODELS_ROOT=MODELS_ROOT)
    await _seed(settings)
    _normalise(settings.daena_db_path)
    return _app(settings, section)


def _app(settings: engine.Settings, section: str) -> DaenaApp:
    return create_app(
        settings,
        clock=Clock(lambda: NOW, UTC),
        initial_section=section,
        probe_nodes=False,  # health stays as stored
    )
