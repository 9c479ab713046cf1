"""The MCP gateway under test: `daena mcp serve` spawned as a subprocess and driven by the
SDK's real client; decisions made by this test process through its own engine."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.stdio import get_default_environment
from mcp_types import Implementation

from engine import Engine, Settings


def serve_params(settings: Settings, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "daena_tui",
            "--env-file",
            "",
            "--db",
            str(settings.daena_db_path),
            "--workspace",
            str(settings.execution_workspace_root),
            "--operator",
            "op@test",
            "mcp",
            "serve",
            *extra,
        ],
        cwd=str(Path(__file__).resolve().parents[2]),
        # the SDK gives a server only a few variables: add the database's URL (PostgreSQL)
        env={**get_default_environment(), **_db_url(settings)},
    )


def _db_url(settings: Settings) -> dict[str, str]:
    return {"DAENA_DB_URL": settings.daena_db_url} if settings.daena_db_url else {}


@asynccontextmanager
async def mcp_client(
    settings: Settings, *extra: str, client_name: str = "test-client"
) -> AsyncIterator[ClientSession]:
    async with stdio_client(serve_params(settings, *extra)) as (read, write):  # noqa: SIM117
        async with ClientSession(
            read, write, client_info=Implementation(name=client_name, version="1")
        ) as session:
            await session.initialize()
            yield session


async def wait_for_pending(eng: Engine, *, budget: int = 300) -> str:
    """The id of the one pending request, within a bounded number of polls."""
    import asyncio

    for _ in range(budget):
        pending = await eng.pending_approvals()
        if pending:
            return pending[0].id
        await asyncio.sleep(0.05)
    raise AssertionError("no request reached the inbox")


async def rows(settings: Settings, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A query's rows on the test's own database, SQLite or PostgreSQL alike (`--backend`):
    what a test reads back after the processes it drove have ended."""
    async with Engine.open(settings) as eng:
        return [tuple(row) for row in await eng.db.fetchall(sql, params)]
