"""The observer's guarantee at the database (`Engine.open(read_only=True)`): even a writing
method the allowlist (engine/observer.py) wrongly let through is refused by the database
connection itself (SQLite `mode=ro`, PostgreSQL `default_transaction_read_only`), on both
backends (`--backend=postgresql`)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from engine import ApprovalRequested, Engine, EngineError, Settings, StorageError
from tests.conftest import make_settings

READ_ONLY = r"readonly|read-only"


async def pending(eng: Engine) -> str:
    await eng.set_tool_enabled("filesystem_write", True)
    request = await eng.as_agent("bot").request(
        "filesystem_write", {"path": "x.txt", "content": "APPROVED\n"}
    )
    return request.id


async def counts(eng: Engine) -> tuple[int, int]:
    audit = await eng.db.fetchone("SELECT COUNT(*) FROM audit")
    events = await eng.db.fetchone("SELECT COUNT(*) FROM events")
    assert audit is not None and events is not None
    return int(audit[0]), int(events[0])


async def test_the_database_refuses_every_write_of_a_read_only_engine(
    eng: Engine, settings: Settings
) -> None:
    request_id = await pending(eng)
    before = await counts(eng)
    async with Engine.open(settings, read_only=True) as seen:
        assert [r.id for r in await seen.approvals.list("pending")] == [request_id]
        # Straight at the database, past any allowlist.
        with pytest.raises(StorageError, match=READ_ONLY):
            await seen.db.write(
                lambda stx: stx.execute("UPDATE approval_requests SET status = 'approved'")
            )
        with pytest.raises(StorageError, match=READ_ONLY):
            async with seen.db.transaction() as tx:
                await tx.execute("DELETE FROM audit")
        # Engine methods that write, called on the raw engine as a wrongly allowlisted
        # method would be: each one refused by the database, as an EngineError.
        for attempt in (
            lambda: seen.approve(request_id, reason="ok"),
            lambda: seen.deny(request_id, "no"),
            lambda: seen.set_tool_enabled("shell_exec", True),
            lambda: seen.update_config({"lockdown": True}),
        ):
            with pytest.raises(EngineError):
                await attempt()
    assert (await eng.approvals.get(request_id)).status == "pending"
    assert await counts(eng) == before  # opening and closing wrote nothing either
    assert not (settings.execution_workspace_root / "x.txt").exists()


async def test_a_read_only_engine_sees_other_processes_changes(
    eng: Engine, settings: Settings
) -> None:
    async with Engine.open(settings, read_only=True, watch=True) as seen:
        with seen.bus.subscription() as queue:
            request_id = await pending(eng)
            while True:  # the request, written by another engine, reaches this one's bus
                event = await asyncio.wait_for(queue.get(), 30)
                if isinstance(event, ApprovalRequested) and event.request_id == request_id:
                    break
        assert (await seen.approvals.get(request_id)).status == "pending"


@pytest.mark.no_postgres  # a missing SQLite file, and one at an old user_version
async def test_a_read_only_engine_opens_only_an_existing_current_database(
    workspace: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "none" / "daena.db"
    with pytest.raises(StorageError, match="does not exist"):
        async with Engine.open(make_settings(workspace, missing), read_only=True):
            pass
    assert not missing.parent.exists()  # not even its directory was created
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("PRAGMA user_version = 3")
    with pytest.raises(StorageError, match="cannot migrate"):
        async with Engine.open(make_settings(workspace, old), read_only=True):
            pass
    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
