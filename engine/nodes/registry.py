"""The node registry (docs/windows_node.md): named nodes in the database, their health, and
tool calls.

Nodes are seeded from `WINDOWS_NODE_URL`/`WINDOWS_NODE_TOKEN` as `windows` on first start.
Adding, editing and removing are audited; a probe stores the latest health and emits
`NodeHealthChanged` when the status changes. Tokens are stored (the engine needs them to
call the node) but never shown, exported or audited: the redactor learns every token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from engine.audit import AuditEntry, AuditLog
from engine.errors import InputError, NotFoundError, PolicyError
from engine.events import NodeChanged, NodeHealthChanged
from engine.nodes.client import (
    DEFAULT_PROBE_TIMEOUT,
    MAX_VERSION_CHARS,
    NodeClient,
    NodeHealthReport,
    clip,
)
from engine.storage.database import Database

NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_NODE = "windows"
PROBE_CONCURRENCY = 32
"""Probes in flight at once: 50 nodes with 24 hung still finish within one deadline."""


@dataclass(frozen=True)
class Node:
    name: str
    url: str
    token: str | None = field(repr=False)
    enabled: bool
    status: str = "unknown"
    latency_ms: float | None = None
    last_seen: float | None = None
    last_checked: float | None = None
    message: str | None = None
    version: str | None = None
    platform: str | None = None
    hostname: str | None = None
    workspace_root: str | None = None
    tools: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Node:
        data = {k: row[k] for k in row.keys() if k not in ("created_at", "updated_at")}  # noqa: SIM118
        data["enabled"] = bool(data["enabled"])
        data["tools"] = tuple(json.loads(data["tools"])) if data["tools"] else ()
        if data["version"]:  # stored before versions were clipped at the probe
            data["version"] = clip(data["version"], MAX_VERSION_CHARS)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Public view: the token only as set/unset."""
        return {
            "name": self.name,
            "url": self.url,
            "token": "set" if self.token else "unset",
            "enabled": self.enabled,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "last_seen": self.last_seen,
            "last_checked": self.last_checked,
            "message": self.message,
            "version": self.version,
            "platform": self.platform,
            "hostname": self.hostname,
            "workspace_root": self.workspace_root,
            "tools": list(self.tools),
        }


def validate_name(name: str) -> str:
    if not NAME_RULE.fullmatch(name or ""):  # not match: `$` passes a final newline
        raise InputError(
            f"name: {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def validate_url(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
    except ValueError as err:  # e.g. an unclosed IPv6 bracket
        raise InputError(f"url: {url!r} is not a valid URL ({err})") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"url: {url!r} must be an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as err:
        raise InputError(f"url: {url!r} has an invalid port") from err
    return url.strip().rstrip("/")


def validate_token(token: str | None) -> str | None:
    if token is None or token == "":
        return None
    if not token.isprintable() or any(c.isspace() for c in token) or not token.isascii():
        raise InputError("token: must be printable ASCII without spaces")
    return token


class NodeRegistry:
    """Stored nodes plus the calls that reach them (implements the tools' NodeCaller)."""

    def __init__(self, db: Database, audit: AuditLog, client: NodeClient) -> None:
        self._db = db
        self._audit = audit
        self._client = client

    async def ensure_seeded(self, url: str, token: str | None, operator: str) -> None:
        if await self._db.fetchone("SELECT 1 FROM nodes WHERE name = ?", (DEFAULT_NODE,)):
            return
        if await self._db.fetchone(
            "SELECT 1 FROM audit WHERE action = 'node_remove' AND tool = ?", (DEFAULT_NODE,)
        ):
            return  # the operator removed it on purpose; do not bring it back
        # InputError: another process seeded it first, or WINDOWS_NODE_URL is invalid (doctor)
        with contextlib.suppress(InputError):
            await self.add(DEFAULT_NODE, url, token, operator=operator, action="node_seed")

    async def learn_tokens(self) -> list[str]:
        rows = await self._db.fetchall("SELECT token FROM nodes WHERE token IS NOT NULL")
        return [str(r[0]) for r in rows]

    async def list(self) -> list[Node]:
        rows = await self._db.fetchall("SELECT * FROM nodes ORDER BY name")
        return [Node.from_row(r) for r in rows]

    async def get(self, name: str) -> Node:
        row = await self._db.fetchone("SELECT * FROM nodes WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"node: no node named {name!r} (see 'daena nodes list')")
        return Node.from_row(row)

    async def add(
        self,
        name: str,
        url: str,
        token: str | None = None,
        *,
        enabled: bool = True,
        operator: str,
        action: str = "node_add",
    ) -> Node:
        name, url, token = validate_name(name), validate_url(url), validate_token(token)
        self._audit.redact.add(token or "")
        now = time.time()
        async with self._db.transaction() as tx:
            if await tx.fetchone("SELECT 1 FROM nodes WHERE name = ?", (name,)):
                raise InputError(f"name: a node named {name!r} already exists")
            await tx.execute(
                "INSERT INTO nodes (name, url, token, enabled, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, url, token, int(enabled), now, now),
            )
            await self._audit.append(
                tx,
                AuditEntry(
                    actor=operator,
                    action=action,
                    tool=name,
                    status="ok",
                    args={"url": url, "token": "set" if token else "unset", "enabled": enabled},
                ),
            )
            await tx.emit(NodeChanged(name, "added"))
        return await self.get(name)

    async def update(
        self,
        name: str,
        *,
        url: str | None = None,
        token: str | None = None,
        clear_token: bool = False,
        enabled: bool | None = None,
        operator: str,
    ) -> Node:
        node = await self.get(name)
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = validate_url(url)
        if token is not None or clear_token:
            changes["token"] = None if clear_token else validate_token(token)
            self._audit.redact.add(changes["token"] or "")
        if enabled is not None:
            changes["enabled"] = int(enabled)
        if not changes:
            raise InputError("node: nothing to change (give --url, --token, --enable or --disable)")
        sets = ", ".join(f"{k} = ?" for k in changes)
        async with self._db.transaction() as tx:
            await tx.execute(
                f"UPDATE nodes SET {sets}, updated_at = ?, status = CASE WHEN ? THEN 'unknown' "
                "ELSE status END WHERE name = ?",
                (
                    *changes.values(),
                    time.time(),
                    int("url" in changes or "token" in changes),
                    node.name,
                ),
            )
            shown = {
                k: ("set" if v else "unset") if k == "token" else v for k, v in changes.items()
            }
            await self._audit.append(
                tx,
                AuditEntry(actor=operator, action="node_edit", tool=name, status="ok", args=shown),
            )
            await tx.emit(NodeChanged(name, "edited"))
        return await self.get(name)

    async def remove(self, name: str, *, operator: str) -> None:
        await self.get(name)
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM nodes WHERE name = ?", (name,))
            await self._audit.append(
                tx, AuditEntry(actor=operator, action="node_remove", tool=name, status="ok")
            )
            await tx.emit(NodeChanged(name, "removed"))

    async def probe(self, name: str, timeout: float = DEFAULT_PROBE_TIMEOUT) -> NodeHealthReport:  # noqa: ASYNC109
        """Check one node now and store the result; status changes are audited and announced."""
        return await self._probe_node(await self.get(name), timeout)

    async def _probe_node(self, node: Node, timeout: float) -> NodeHealthReport:  # noqa: ASYNC109
        name = node.name
        report = await self._client.probe(node.url, node.token, timeout)
        checked = _epoch(report.checked_at)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE nodes SET status = ?, latency_ms = ?, last_checked = ?, message = ?, "
                "last_seen = CASE WHEN ? THEN ? ELSE last_seen END, "
                "version = CASE WHEN ? THEN NULL ELSE COALESCE(?, version) END, "
                "platform = CASE WHEN ? THEN NULL ELSE COALESCE(?, platform) END, "
                "hostname = CASE WHEN ? THEN NULL ELSE COALESCE(?, hostname) END, "
                "workspace_root = COALESCE(?, workspace_root), "
                "tools = COALESCE(?, tools) WHERE name = ?",
                (
                    report.status,
                    report.latency_ms,
                    checked,
                    report.message,
                    int(report.ok),
                    checked,
                    report.original,  # the original node: version etc. unknown, not stale
                    report.version,
                    report.original,
                    report.platform,
                    report.original,
                    report.hostname,
                    report.workspace_root,
                    json.dumps(list(report.tools)) if report.ok else None,
                    name,
                ),
            )
            if report.status != node.status:
                await self._audit.append(
                    tx,
                    AuditEntry(
                        actor="system",
                        action="node_health",
                        tool=name,
                        status=report.status,
                        error=None if report.ok else report.message,
                        duration_ms=report.latency_ms,
                    ),
                )
                await tx.emit(
                    NodeHealthChanged(name, report.status, report.latency_ms, node.status)
                )
        return report

    async def probe_each(
        self,
        *,
        timeout: float = DEFAULT_PROBE_TIMEOUT,  # noqa: ASYNC109 (each probe's deadline)
        concurrency: int = PROBE_CONCURRENCY,
    ) -> AsyncIterator[tuple[str, NodeHealthReport]]:
        """Probe every enabled node, `concurrency` at a time, each within `timeout` s, and
        yield each (name, report) as it arrives: a node that accepts the connection and
        never answers holds one slot until its deadline, not the others' results. The
        whole round takes at most ceil(hung / concurrency) deadlines plus the answers."""
        nodes = [node for node in await self.list() if node.enabled]
        slots = asyncio.Semaphore(max(1, concurrency))

        async def one(node: Node) -> tuple[str, NodeHealthReport]:
            async with slots:
                return node.name, await self._probe_node(node, timeout)

        tasks = [asyncio.ensure_future(one(node)) for node in nodes]
        try:
            for arrived in asyncio.as_completed(tasks):
                yield await arrived
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def probe_all(
        self,
        *,
        timeout: float = DEFAULT_PROBE_TIMEOUT,  # noqa: ASYNC109 (each probe's deadline)
        concurrency: int = PROBE_CONCURRENCY,
    ) -> dict[str, NodeHealthReport]:
        """Every enabled node's report (probed concurrently, see `probe_each`), by name."""
        reports = dict(
            [item async for item in self.probe_each(timeout=timeout, concurrency=concurrency)]
        )
        return {name: reports[name] for name in sorted(reports)}

    async def call_node_tool(
        self, node: str, tool_name: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        target = await self.get(node)
        if not target.enabled:
            raise PolicyError(f"node: node {node!r} is disabled")
        return await self._client.run_tool(target.url, target.token, tool_name, args)


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()
