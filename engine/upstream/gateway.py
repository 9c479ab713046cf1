"""The upstream gateway: stored servers and tools as catalogue entries, and the calls.

`UpstreamGateway.sync()` turns every stored upstream tool into a `ToolSpec` named
`SERVER.tool` (disabled by default, the operator's risk), so a call passes the executor
like any other tool. Its `run` reaches the upstream only after checking, on the live
connection, that the tool's definition is still the one pinned when it was enabled; a
changed definition disables the tool, is recorded beside the pinned one, and is refused.

The check's listing is reused for at most PIN_MAX_AGE_SEC on the same session, and dropped
at once when the upstream announces a changed tool list (docs/mcp.md "Pinning" states the
guarantee exactly): a `tools/list` before every call doubled the cost of each call.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import TYPE_CHECKING, Any, cast

from engine.audit import AuditEntry, AuditLog
from engine.errors import (
    ConfigError,
    EngineError,
    InputError,
    NotFoundError,
    PolicyError,
    ToolFailure,
)
from engine.storage.database import Database
from engine.tools.spec import Risk, ToolContext, ToolSpec
from engine.upstream.args import args_model_for
from engine.upstream.connection import Connection, Endpoint
from engine.upstream.pinning import Definition
from engine.upstream.store import (
    Server,
    UpstreamStore,
    UpstreamTool,
    check_server_name,
    split_name,
)

if TYPE_CHECKING:
    from engine.policy import PolicyStore
    from engine.tools.registry import ToolRegistry

CONNECTION_CLOSED = -32000  # the SDK's JSON-RPC code for a peer that went away
ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
MAX_LIVE = 8
"""Upstream connections kept open at once; the least recently used one is stopped first."""
CALL_TIMEOUT_SEC = 60.0
LIST_TIMEOUT_SEC = 15.0
PIN_MAX_AGE_SEC = 1.0
"""How long a pin check's listing is trusted on one session when the upstream announces
no change: a silent change is caught by the first call that starts later than this."""
PINNING_ACTOR = "daena:pinning"


def _definition(tool: Any) -> tuple[Definition, dict[str, Any]]:
    annotations = (
        tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else {}
    )
    return Definition(tool.name, tool.description or "", dict(tool.input_schema)), annotations


def _loaded_key(tool: UpstreamTool) -> tuple[str | None, Risk, str]:
    return tool.pinned_hash, tool.risk, (tool.pinned or tool.definition).pin


def usable_schema(schema: dict[str, Any]) -> bool:
    """An object schema whose argument names are plain identifiers: front ends make form
    fields, CLI `--arg` keys and widget ids of them (others are skipped, like odd names)."""
    properties = schema.get("properties", {})
    return (
        schema.get("type", "object") == "object"
        and isinstance(properties, dict)
        and all(isinstance(k, str) and ARG_NAME.fullmatch(k) for k in properties)
    )


def result_dict(result: Any) -> dict[str, Any]:
    """An MCP tool result as a run's result: its text, structured content, other kinds."""
    texts = [b.text for b in result.content if getattr(b, "type", "") == "text"]
    others = [getattr(b, "type", "?") for b in result.content if getattr(b, "type", "") != "text"]
    out: dict[str, Any] = {"text": "\n".join(texts)}
    if result.structured_content is not None:
        out["structured"] = result.structured_content
    if others:
        out["other_content"] = others
    return out


class UpstreamGateway:
    def __init__(self, db: Database, *, max_live: int = MAX_LIVE) -> None:
        self.store = UpstreamStore(db)
        self._max_live = max_live
        self._connections: dict[str, Connection] = {}
        self._reported: dict[str, tuple[str, int, str | None]] = {}
        self._policy: PolicyStore | None = None
        self._audit_log: AuditLog | None = None
        self._registry: ToolRegistry | None = None
        self._loaded: dict[str, tuple[str | None, Risk, str]] = {}
        """The upstream tools this process registered: name → (pin, risk, shown definition)."""
        self._shadowed: set[str] = set()
        """Upstream names a plugin's tool already held when they came (the plugin's stays)."""
        self._sync_lock = asyncio.Lock()

    def attach(self, policy: PolicyStore, audit: AuditLog) -> None:
        """The engine's policy (a changed definition disables the tool in it) and audit log.
        Attached after the engine is built: the tools must be known before its policy is."""
        self._policy, self._audit_log = policy, audit

    @property
    def _audit(self) -> AuditLog:
        if self._audit_log is None:
            raise ConfigError("mcp: the gateway is not attached to an engine")
        return self._audit_log

    # -- catalogue ------------------------------------------------------------------------

    async def load(self, registry: ToolRegistry) -> None:
        """Register the stored upstream tools (before the engine's policy is built)."""
        self._registry = registry
        await self.sync()

    async def sync(self) -> bool:
        """Bring this process's catalogue up to the stored one: tools of a server added (or
        refreshed) by another process are registered, disabled until enabled; those of a
        removed server are dropped; a re-pinned tool or a new risk replaces the tool's spec.
        One read when nothing changed. True when something did."""
        registry = self._registry
        if registry is None:
            return False
        if self._stored(await self.store.tools()) == self._loaded:
            return False
        async with self._sync_lock:  # read again inside: a newer state never loses to an older
            tools = await self.store.tools()
            for tool in tools:
                if tool.name in registry and tool.name not in self._loaded:
                    self._shadowed.add(tool.name)  # a plugin's tool was there first: it stays
            stored = self._stored(tools)
            for tool in tools:
                key = stored.get(tool.name)
                if key is None or self._loaded.get(tool.name) == key:
                    continue
                registry.unregister(tool.name)
                registry.register(self.spec_for(tool))
                if self._policy is not None:
                    self._policy.know(tool.name, False)
                self._loaded[tool.name] = key
            for gone in set(self._loaded) - set(stored):
                registry.unregister(gone)
                del self._loaded[gone]
        return True

    def _stored(self, tools: list[UpstreamTool]) -> dict[str, tuple[str | None, Risk, str]]:
        return {t.name: _loaded_key(t) for t in tools if t.name not in self._shadowed}

    def spec_for(self, tool: UpstreamTool) -> ToolSpec:
        shown = tool.pinned or tool.definition
        name = tool.name
        admitted = (shown.pin, tool.risk)  # what this process's executor decides with

        async def run(ctx: ToolContext, args: Any) -> dict[str, Any]:
            return await self.call(name, args.model_dump(mode="json"), admitted=admitted)

        return ToolSpec(
            name=name,
            description=shown.description,
            risk=tool.risk,
            args_model=args_model_for(name, shown.input_schema),
            run=run,
            default_enabled=False,
            timeout_sec=CALL_TIMEOUT_SEC,
            tags=("mcp", tool.server),
        )

    # -- servers --------------------------------------------------------------------------

    async def add(self, name: str, endpoint: Endpoint, operator: str) -> list[UpstreamTool]:
        """Store a server and discover its tools (all disabled)."""
        check_server_name(name)
        if bool(endpoint.command) == bool(endpoint.url):
            raise InputError("server: give either a command (after --) or --url")
        if endpoint.url and not endpoint.url.startswith(("http://", "https://")):
            raise InputError(f"url: {endpoint.url!r} must be an http:// or https:// URL")
        await self.store.add_server(name, endpoint, operator)
        try:
            await self.refresh(name)
        except EngineError:
            await self.store.remove_server(name)
            raise
        await self.sync()
        await self._audit.record(
            AuditEntry(
                actor=operator,
                action="mcp_server_add",
                status="ok",
                args={"name": name, "endpoint": endpoint.describe()},
            )
        )
        return await self.store.tools(name)

    async def remove(self, name: str, operator: str) -> None:
        """Stop and forget a server; its tools are switched off first, so a server added
        again later under this name starts with every tool disabled."""
        await self.store.server(name)
        await self.sync()
        conn = self._connections.pop(name, None)
        if conn is not None:
            await conn.stop()
        known = [t.name for t in await self.store.tools(name) if t.name in self._loaded]
        if known and self._policy is not None:
            await self._policy.update({"tool_enabled": dict.fromkeys(known, False)}, operator)
        await self.store.remove_server(name, operator)
        await self.sync()
        await self._audit.record(
            AuditEntry(actor=operator, action="mcp_server_remove", status="ok", args={"name": name})
        )

    async def refresh(self, name: str) -> list[str]:
        """List the server's tools again; returns the pinned tools whose definition changed
        (they are disabled)."""
        server = await self.store.server(name)
        listed = await self._list(self.connection(server))
        before = {t.definition.name: t for t in await self.store.tools(name)}
        await self.store.save_discovered(name, list(listed.values()))
        changed = []
        for tool_name, (definition, _) in listed.items():
            old = before.get(tool_name)
            if old and old.pinned_hash and old.pinned_hash != definition.pin:
                changed.append(old.name)
                await self._disable_changed(old.name, definition)
        await self.sync()
        return changed

    async def enable(self, name: str, risk: Risk | None, operator: str) -> UpstreamTool:
        """Pin the tool's current definition (with the operator's risk) and enable it."""
        tool = await self.store.tool(name)
        pinned = await self.store.pin(name, risk or tool.risk)
        if self._policy is None:
            raise ConfigError("mcp: the gateway is not attached to a policy")
        await self.sync()  # a tool discovered by another process: known here too
        await self._policy.update({"tool_enabled": {name: True}}, operator)
        await self._audit.record(
            AuditEntry(
                actor=operator,
                action="mcp_tool_pin",
                tool=name,
                status="ok",
                args={"hash": pinned.pinned_hash, "risk": str(pinned.risk)},
            )
        )
        return pinned

    def connection(self, server: Server) -> Connection:
        conn = self._connections.get(server.name)
        if conn is None or conn.endpoint != server.endpoint:
            conn = Connection(server.name, server.endpoint)
            self._connections[server.name] = conn
        return conn

    def connections(self) -> list[Connection]:
        return list(self._connections.values())

    async def close(self) -> None:
        for conn in list(self._connections.values()):
            with contextlib.suppress(Exception):
                await conn.stop()
                await self._report(conn)
        self._connections.clear()

    async def _report(self, conn: Connection) -> None:
        """Store the connection's state for other processes when it changed (a write only
        on a change, never one per call)."""
        error = conn.failure() if conn.state == "failed" else None
        now = (conn.state, conn.restarts, error)
        if self._reported.get(conn.name) == now:
            return
        self._reported[conn.name] = now
        with contextlib.suppress(EngineError):  # the server may have been removed meanwhile
            await self.store.save_state(conn.name, conn.state, conn.restarts, error)

    async def _evict(self, keep: str) -> None:
        live = [c for c in self._connections.values() if c.state == "running" and c.name != keep]
        while len(live) >= self._max_live:
            oldest = min(live, key=lambda c: c.last_used)
            live.remove(oldest)
            await oldest.stop()

    async def _list(self, conn: Connection) -> dict[str, tuple[Definition, dict[str, Any]]]:
        """The upstream's tools now; a dead connection is restarted once (listing runs
        nothing, so it is safe to repeat)."""
        from mcp.shared.exceptions import MCPError

        for attempt in (1, 2):
            await self._evict(conn.name)
            try:
                session = await conn.session()
            finally:
                await self._report(conn)
            seen = (conn.starts, conn.list_changes, time.monotonic())
            try:
                result = await asyncio.wait_for(session.list_tools(), LIST_TIMEOUT_SEC)
            except MCPError as err:
                if err.code != CONNECTION_CLOSED:
                    raise ToolFailure(f"upstream {conn.name}: tools/list failed: {err}") from err
                await conn.broken(f"tools/list: the connection closed: {err}")
                await self._report(conn)
                if attempt == 2:
                    raise ToolFailure(f"upstream {conn.name}: {conn.failure()}") from err
                continue
            except (Exception, asyncio.CancelledError) as err:
                await conn.broken(f"tools/list failed: {type(err).__name__}: {err}")
                if isinstance(err, asyncio.CancelledError):
                    with contextlib.suppress(BaseException):
                        await asyncio.shield(self._report(conn))
                    raise
                await self._report(conn)
                if attempt == 2:
                    raise ToolFailure(f"upstream {conn.name}: {conn.failure()}") from err
                continue
            listed: dict[str, tuple[Definition, dict[str, Any]]] = {}
            for tool in result.tools:
                definition, annotations = _definition(tool)
                with contextlib.suppress(EngineError):
                    split_name(f"{conn.name}.{definition.name}")  # unusable names are skipped
                    if usable_schema(definition.input_schema):
                        listed[definition.name] = (definition, annotations)
            conn.remember_listing(listed, *seen)
            return listed
        raise AssertionError("unreachable")

    async def _pin_listing(self, conn: Connection) -> dict[str, tuple[Definition, dict[str, Any]]]:
        """The listing a call's pin check compares with: the last one on this session if it
        is younger than PIN_MAX_AGE_SEC, no `tools/list_changed` came since and the session
        is still alive, else a new `tools/list` (which restarts a dead upstream first)."""
        cached = conn.listed
        fresh = time.monotonic() - conn.listed_at < PIN_MAX_AGE_SEC
        if cached is not None and fresh and conn.alive():
            return cast(dict[str, tuple[Definition, dict[str, Any]]], cached)
        return await self._list(conn)  # a dead session is restarted here, before the call

    # -- calls ----------------------------------------------------------------------------

    async def call(
        self, name: str, args: dict[str, Any], *, admitted: tuple[str, Risk] | None = None
    ) -> dict[str, Any]:
        """One call, after the pin check on the live definition.

        `admitted` is the definition hash and risk the executor decided this call with (its
        process loaded them at start). If the operator has since re-pinned the tool or set
        another risk (from another process), the decision may be wrong either way: refused.
        """
        from mcp.shared.exceptions import MCPError

        try:
            tool, server = await self.store.tool_and_server(name)
        except NotFoundError:
            await self.sync()  # removed by another process: gone from this catalogue too
            raise PolicyError(
                f"tool: no upstream tool {name!r} any more (its server was removed)"
            ) from None
        if tool.pinned_hash is None:
            raise PolicyError(f"tool: {name} was never pinned; enable it with 'daena mcp enable'")
        if admitted is not None and admitted != (tool.pinned_hash, tool.risk):
            await self.sync()  # the next call is decided with the operator's new setting
            raise PolicyError(
                f"pinning: {name} was re-pinned or its risk changed after this call was "
                "decided; nothing ran, call it again"
            )
        conn = self.connection(server)
        live = (await self._pin_listing(conn)).get(tool.definition.name)
        if live is None:
            raise PolicyError(
                f"tool: upstream {tool.server} no longer lists {tool.definition.name}"
            )
        if live[0].pin != tool.pinned_hash:
            await self._disable_changed(name, live[0])
            raise PolicyError(
                f"pinning: {name}'s definition changed since it was enabled; it is disabled "
                "until an operator re-enables it (daena mcp enable)"
            )
        session = await conn.session()
        try:
            result = await session.call_tool(tool.definition.name, args)
        except MCPError as err:
            if err.code != CONNECTION_CLOSED:
                raise ToolFailure(f"upstream {tool.server}: {err}") from err
            await asyncio.sleep(0.1)  # let the upstream's last stderr lines arrive
            await conn.broken(f"the connection closed during the call: {err}")
            await self._report(conn)
            raise ToolFailure(f"upstream {tool.server}: {conn.failure()}") from err
        except asyncio.CancelledError:
            await conn.broken("a call was cancelled or timed out; restarted on next use")
            await self._report(conn)
            raise
        except Exception as err:
            await conn.broken(f"tools/call failed: {type(err).__name__}: {err}")
            await self._report(conn)
            raise ToolFailure(f"upstream {tool.server}: {conn.failure()}") from err
        out = result_dict(result)
        if result.is_error:
            failure = ToolFailure(f"upstream {name} reported an error: {out['text'][:500]}")
            failure.result = out  # type: ignore[attr-defined]
            raise failure
        return out

    async def _disable_changed(self, name: str, live: Definition) -> None:
        """A rug pull: record the new definition, disable the tool, raise the alert."""
        await self.store.mark_changed(name, live)
        if self._policy is not None:
            await self._policy.update({"tool_enabled": {name: False}}, PINNING_ACTOR)
        await self._audit.record(
            AuditEntry(
                actor=PINNING_ACTOR,
                action="mcp_pin_changed",
                tool=name,
                status="refused",
                error=f"{name}'s definition changed after it was enabled; disabled",
                args={"new_hash": live.pin},
            )
        )
