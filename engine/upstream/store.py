"""The upstream servers and tools the operator plugged in (tables of migration 10)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError, NotFoundError
from engine.events import ConfigChanged
from engine.storage.database import Database, dumps
from engine.tools.spec import Risk
from engine.upstream.connection import Endpoint
from engine.upstream.pinning import Definition

SERVER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
CATALOGUE_KEY = "mcp_servers"


def catalogue_changed(operator: str) -> ConfigChanged:
    """Servers or their tools came or went: front ends showing the catalogue reload it, and
    every engine's next listing or run of an unknown name brings its registry up to date."""
    return ConfigChanged((CATALOGUE_KEY,), operator or "daena:mcp")


SEPARATOR = "."
"""`SERVER.tool`: neither part may hold a dot, so the split is unambiguous and no upstream
name can equal a built-in tool's (those have no dot)."""


def check_server_name(name: str) -> str:
    if not SERVER_NAME.fullmatch(name):
        raise InputError(
            f"name: {name!r} must be 1-32 lowercase letters, digits, '-' or '_' "
            "(starting with a letter or digit)"
        )
    return name


def catalogue_name(server: str, tool: str) -> str:
    return f"{server}{SEPARATOR}{tool}"


def split_name(name: str) -> tuple[str, str]:
    server, sep, tool = name.partition(SEPARATOR)
    if not sep or not SERVER_NAME.fullmatch(server) or not TOOL_NAME.fullmatch(tool):
        raise NotFoundError(f"tool: {name!r} is not an upstream tool (SERVER.tool)")
    return server, tool


def risk_from_annotations(annotations: dict[str, Any]) -> Risk:
    """The default risk from an upstream's hints: read-only → low, destructive → high,
    otherwise medium. Hints from an untrusted server: the operator's setting wins."""
    if annotations.get("readOnlyHint") is True:
        return Risk.LOW
    if annotations.get("destructiveHint") is False:
        return Risk.MEDIUM
    return Risk.HIGH if annotations.get("destructiveHint") is True else Risk.MEDIUM


@dataclass(frozen=True)
class Server:
    name: str
    endpoint: Endpoint
    created_at: float
    created_by: str
    state: str | None = None
    """As the process holding its connection last saw it: running, failed or stopped."""
    state_at: float | None = None
    restarts: int = 0
    last_error: str | None = None
    """Untrusted text (it ends with the tail of the upstream's stderr)."""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Server:
        command = tuple(json.loads(row["command"])) if row["command"] else ()
        endpoint = Endpoint(command, row["url"], dict(json.loads(row["headers"])))
        return cls(
            row["name"],
            endpoint,
            row["created_at"],
            row["created_by"],
            row["state"],
            row["state_at"],
            row["restarts"],
            row["last_error"],
        )


@dataclass(frozen=True)
class UpstreamTool:
    server: str
    definition: Definition
    annotations: dict[str, Any]
    risk: Risk
    pinned_hash: str | None
    pinned: Definition | None
    changed: Definition | None

    @property
    def name(self) -> str:
        return catalogue_name(self.server, self.definition.name)

    @property
    def pin_state(self) -> str:
        """`unpinned` (never enabled), `pinned`, or `changed` (disabled by a new definition)."""
        if self.changed is not None:
            return "changed"
        return "pinned" if self.pinned_hash else "unpinned"

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> UpstreamTool:
        def definition(raw: str | None) -> Definition | None:
            return Definition.from_dict(json.loads(raw)) if raw else None

        current = definition(row["definition"])
        assert current is not None
        return cls(
            row["server"],
            current,
            dict(json.loads(row["annotations"])),
            Risk(row["risk"]),
            row["pinned_hash"],
            definition(row["pinned_definition"]),
            definition(row["changed_definition"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "server": self.server,
            "tool": self.definition.name,
            "description": self.definition.description,
            "input_schema": self.definition.input_schema,
            "annotations": self.annotations,
            "risk": str(self.risk),
            "pin": self.pin_state,
            "pinned_hash": self.pinned_hash,
            "changed_definition": self.changed.to_dict() if self.changed else None,
        }


class UpstreamStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def servers(self) -> list[Server]:
        rows = await self._db.fetchall("SELECT * FROM mcp_servers ORDER BY name")
        return [Server.from_row(r) for r in rows]

    async def server(self, name: str) -> Server:
        row = await self._db.fetchone("SELECT * FROM mcp_servers WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"name: no MCP server {name!r} (see 'daena mcp list')")
        return Server.from_row(row)

    async def tools(self, server: str | None = None) -> list[UpstreamTool]:
        if server is None:
            rows = await self._db.fetchall("SELECT * FROM mcp_upstream_tools ORDER BY server, tool")
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM mcp_upstream_tools WHERE server = ? ORDER BY tool", (server,)
            )
        return [UpstreamTool.from_row(r) for r in rows]

    async def tool(self, name: str) -> UpstreamTool:
        server, tool = split_name(name)
        row = await self._db.fetchone(
            "SELECT * FROM mcp_upstream_tools WHERE server = ? AND tool = ?", (server, tool)
        )
        if row is None:
            raise NotFoundError(f"tool: no upstream tool {name!r} (see 'daena mcp tools')")
        return UpstreamTool.from_row(row)

    async def tool_and_server(self, name: str) -> tuple[UpstreamTool, Server]:
        """A tool and its server in one hand-off to the database thread (a call's path)."""
        server_name, tool_name = split_name(name)

        def read(raw: sqlite3.Connection) -> tuple[sqlite3.Row | None, sqlite3.Row | None]:
            tool = raw.execute(
                "SELECT * FROM mcp_upstream_tools WHERE server = ? AND tool = ?",
                (server_name, tool_name),
            ).fetchone()
            server = raw.execute(
                "SELECT * FROM mcp_servers WHERE name = ?", (server_name,)
            ).fetchone()
            return tool, server

        tool_row, server_row = await self._db.read(read)
        if tool_row is None:
            raise NotFoundError(f"tool: no upstream tool {name!r} (see 'daena mcp tools')")
        if server_row is None:
            raise NotFoundError(f"name: no MCP server {server_name!r} (see 'daena mcp list')")
        return UpstreamTool.from_row(tool_row), Server.from_row(server_row)

    async def add_server(self, name: str, endpoint: Endpoint, operator: str) -> None:
        async with self._db.transaction() as tx:
            if await tx.fetchone("SELECT 1 FROM mcp_servers WHERE name = ?", (name,)):
                raise InputError(f"name: an MCP server {name!r} is already added")
            await tx.execute(
                "INSERT INTO mcp_servers (name, command, url, headers, created_at, created_by)"
                " VALUES (?,?,?,?,?,?)",
                (
                    name,
                    dumps(list(endpoint.command)) if endpoint.command else None,
                    endpoint.url,
                    dumps(endpoint.headers),
                    time.time(),
                    operator,
                ),
            )

    async def save_state(
        self, name: str, state: str, restarts: int, last_error: str | None
    ) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE mcp_servers SET state = ?, state_at = ?, restarts = ?, last_error = ?"
                " WHERE name = ?",
                (state, time.time(), restarts, last_error, name),
            )

    async def remove_server(self, name: str, operator: str = "") -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM mcp_upstream_tools WHERE server = ?", (name,))
            await tx.execute("DELETE FROM mcp_servers WHERE name = ?", (name,))
            await tx.emit(catalogue_changed(operator))

    async def save_discovered(
        self, server: str, found: list[tuple[Definition, dict[str, Any]]], operator: str = ""
    ) -> None:
        """Record what the upstream lists now. A known tool keeps its pin and its risk;
        a changed definition is recorded beside the pinned one (the caller disables it).
        New tools are announced as a configuration change (front ends list them)."""
        async with self._db.transaction() as tx:
            added = 0
            for definition, annotations in found:
                row = await tx.fetchone(
                    "SELECT pinned_hash FROM mcp_upstream_tools WHERE server = ? AND tool = ?",
                    (server, definition.name),
                )
                if row is None:
                    await tx.execute(
                        "INSERT INTO mcp_upstream_tools (server, tool, definition, annotations,"
                        " risk, discovered_at) VALUES (?,?,?,?,?,?)",
                        (
                            server,
                            definition.name,
                            dumps(definition.to_dict()),
                            dumps(annotations),
                            str(risk_from_annotations(annotations)),
                            time.time(),
                        ),
                    )
                    added += 1
                    continue
                pinned = row["pinned_hash"]
                changed = (
                    dumps(definition.to_dict()) if pinned and pinned != definition.pin else None
                )
                await tx.execute(
                    "UPDATE mcp_upstream_tools SET definition = ?, annotations = ?,"
                    " changed_definition = COALESCE(?, changed_definition)"
                    " WHERE server = ? AND tool = ?",
                    (
                        dumps(definition.to_dict()),
                        dumps(annotations),
                        changed,
                        server,
                        definition.name,
                    ),
                )
            if added:
                await tx.emit(catalogue_changed(operator))

    async def mark_changed(self, name: str, definition: Definition) -> None:
        server, tool = split_name(name)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE mcp_upstream_tools SET changed_definition = ?, definition = ?"
                " WHERE server = ? AND tool = ?",
                (dumps(definition.to_dict()), dumps(definition.to_dict()), server, tool),
            )

    async def pin(self, name: str, risk: Risk) -> UpstreamTool:
        """Pin the tool's current definition with the operator's risk."""
        current = await self.tool(name)
        server, tool = split_name(name)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE mcp_upstream_tools SET pinned_hash = ?, pinned_definition = ?,"
                " changed_definition = NULL, risk = ? WHERE server = ? AND tool = ?",
                (
                    current.definition.pin,
                    dumps(current.definition.to_dict()),
                    str(risk),
                    server,
                    tool,
                ),
            )
        return await self.tool(name)
