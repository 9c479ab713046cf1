"""The Engine facade: one object owning the database, registry, policy, approvals, audit,
HTTP client and event bus. Every front end (console, CLI, HTTP API, scripts) uses it.

    async with Engine.open(load_settings()) as eng:
        result = await eng.run(RunRequest(tool="git_status"))
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from engine.approvals import ApprovalRequest, Approvals, Grant
from engine.audit import AuditEntry, AuditLog, Redactor
from engine.clock import SYSTEM, Clock
from engine.errors import ApprovalError, ConfigError, EngineError, InputError
from engine.events import Event, EventBus
from engine.executor import Executor
from engine.explain import Decision
from engine.leases import LEASE_HEARTBEAT_SEC, RunLeases
from engine.nodes import NodeClient, NodeRegistry
from engine.policy import ExecutionConfig, PolicyStore, load_seed
from engine.recovery import Recovery
from engine.runs import RunRequest, RunResult, canonical_args
from engine.settings import Settings
from engine.statuses import ApprovalStatus, RunStatus
from engine.storage.backend import open_database
from engine.storage.database import Database
from engine.sweeps import EVENT_RETENTION_SEC, Sweeper
from engine.tasks.store import TaskStore
from engine.tools.registry import ToolRegistry
from engine.tools.spec import Risk, ToolContext
from engine.upstream.gateway import UpstreamGateway

if TYPE_CHECKING:
    import httpx

    from engine.agents import AgentSession
    from engine.brain import Brain
    from engine.credentials import AgentCredentials
    from engine.tasks.service import TaskService
    from engine.voice import VoiceAlerts

WATCH_INTERVAL_SEC = 0.2


@dataclass(frozen=True)
class ToolInfo:
    """A tool as front ends list it."""

    name: str
    description: str
    risk: Risk
    enabled: bool
    schema: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "risk": str(self.risk),
            "enabled": self.enabled,
            "schema": self.schema,
        }


class Engine:
    """Use `Engine.open(settings)`; the constructor only wires parts together."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        registry: ToolRegistry,
        http: httpx.AsyncClient | None = None,
        clock: Clock = SYSTEM,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.db = db
        self.bus = db.bus
        self.registry = registry
        self._http = http
        self.workspace = settings.execution_workspace_root.resolve()
        self.redactor = Redactor(settings.secret_values())
        self.audit = AuditLog(db, self.redactor)
        self.policy = PolicyStore(
            db, self.audit, {spec.name: spec.default_enabled for spec in registry.all()}
        )
        self.approvals = Approvals(db, self.audit, clock)
        self.leases = RunLeases(db, self.audit)
        self.nodes = NodeRegistry(db, self.audit, NodeClient(lambda: self.http))
        self.executor = Executor(
            db,
            registry,
            self.policy,
            self.approvals,
            self.audit,
            self._tool_context,
            forced_lockdown=settings.security_lockdown_mode,
        )
        self.operator = settings.daena_operator
        self.recovery = Recovery(
            db, self.audit, self.leases, TaskStore(db, self.audit, clock), clock
        )
        self.upstream = UpstreamGateway(db)
        self.sweeper = Sweeper(db, self.approvals)
        self._background: list[asyncio.Task[None]] = []

    # Made on first use: opening the engine and listing its tools (what a console waits
    # for before its first section) needs none of them, and their imports cost ~40 ms.

    @cached_property
    def brain(self) -> Brain:
        """The local model (Ollama) the planner and the advisory notes ask."""
        from engine.brain import Brain

        return Brain(self.settings)

    @cached_property
    def voice(self) -> VoiceAlerts:
        from engine.voice import VoiceAlerts

        return VoiceAlerts(self.settings)

    @cached_property
    def tasks(self) -> TaskService:
        from engine.tasks.service import TaskService

        return TaskService(self, brain=self.brain)

    @cached_property
    def credentials(self) -> AgentCredentials:
        from engine.credentials import AgentCredentials

        return AgentCredentials(self.db, self.audit, self.clock)

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        registry: ToolRegistry | None = None,
        watch: bool = False,
        probe_nodes_every: float | None = None,
        index_audit: bool = False,
        seed: dict[str, Any] | None = None,
        clock: Clock = SYSTEM,
        read_only: bool = False,
    ) -> AsyncIterator[Engine]:
        """Open the database, seed and sweep.

        With `watch`, events written by other processes are published on this engine's bus;
        with `probe_nodes_every`, enabled nodes are health-checked at that interval; with
        `index_audit`, audit records the search index lacks are indexed in the background
        (long-lived processes: the console, `daena serve`). `clock` is where expiry, budgets
        and waits read time (tests pass an `engine.clock.ManualClock`).

        `read_only` (the observer, engine/observer.py): the database connection itself
        refuses writes, and nothing that writes runs (no migration, seeding, recovery,
        sweeps, leases, indexing or node probes): the other processes do those.
        """
        workspace = settings.execution_workspace_root
        if not workspace.is_dir():
            raise ConfigError(f"EXECUTION_WORKSPACE_ROOT: {workspace} is not a directory")
        db = await open_database(
            settings.daena_db_url, settings.daena_db_path, EventBus(), read_only=read_only
        )
        registry = registry or ToolRegistry.default()
        upstream = UpstreamGateway(db)  # upstream MCP tools: known before the policy is built
        await upstream.load(registry)
        engine = cls(settings, db, registry, clock=clock)
        engine.upstream = upstream
        upstream.attach(engine.policy, engine.audit)
        engine.executor.catalogue_sync = upstream.sync  # servers added by other processes
        try:
            if read_only:
                await engine._open_read_only(watch=watch)
                yield engine
                return
            await engine.leases.stamp()
            await engine.policy.ensure_seeded(
                load_seed() if seed is None else seed, engine.operator
            )
            await engine.recovery.at_open()  # what dead processes left (engine/recovery.py)
            # Old events and expired requests: in batches after open, never blocking it.
            engine._spawn(engine._sweep(), "daena-sweeps")
            token = settings.windows_node_token
            await engine.nodes.ensure_seeded(
                settings.windows_node_url,
                token.get_secret_value() if token else None,
                engine.operator,
            )
            for secret in await engine.nodes.learn_tokens():
                engine.redactor.add(secret)
            if db.shared_across_hosts:  # other hosts tell a dead owner by its heartbeat
                engine._spawn(engine._renew_leases(), "daena-lease-heartbeat")
            if watch:
                await engine.start_watching()
            if index_audit:
                engine._spawn(engine._index_audit_backlog(), "daena-audit-indexer")
            if probe_nodes_every:
                engine.start_probing(probe_nodes_every)
            yield engine
        finally:
            await engine.stop_background()
            await engine.upstream.close()
            if engine._http is not None:
                await engine._http.aclose()
            await db.close()

    async def _open_read_only(self, *, watch: bool) -> None:
        """The reading half of opening: secrets to redact, and other processes' events."""
        for secret in await self.nodes.learn_tokens():
            self.redactor.add(secret)
        if watch:
            await self.start_watching()

    @property
    def http(self) -> httpx.AsyncClient:
        """The engine's HTTP client (nodes, tools), made on first use: httpx and its TLS
        trust store cost ~110 ms, which an open that only lists or reads never needs."""
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                follow_redirects=False, timeout=self.settings.automation_request_timeout_sec
            )
        return self._http

    def _tool_context(self, trace_id: str) -> ToolContext:
        return ToolContext(
            settings=self.settings,
            workspace=self.workspace,
            http_source=lambda: self.http,
            nodes=self.nodes,
            trace_id=trace_id,
        )

    # -- tools and runs -------------------------------------------------------------------

    async def list_tools(self) -> list[ToolInfo]:
        await self.upstream.sync()  # upstream servers another process added or removed
        config = await self.policy.current()
        return [
            ToolInfo(
                spec.name,
                spec.description,
                spec.risk,
                config.enabled(spec.name, spec.default_enabled),
                spec.json_schema(),
            )
            for spec in self.registry.all()
        ]

    async def run(
        self, request: RunRequest | str, args: dict[str, Any] | None = None, **kw: Any
    ) -> RunResult:
        """Run a tool through policy, approvals and audit. Never raises for tool failures."""
        if isinstance(request, str):
            request = RunRequest(tool=request, args=args or {}, **kw)
        return await self.executor.run(request)

    async def explain(
        self, request: RunRequest, *, policy_changes: dict[str, Any] | None = None
    ) -> Decision:
        """Which rule decides `request` under the current policy, or under the policy
        `policy_changes` would make (validated, never stored). Nothing is run or audited."""
        await self.executor.ensure_known(request.tool)
        if policy_changes:
            config = await self.policy.preview(policy_changes)
        else:
            config = await self.policy.current()
        return await self.executor.explain(request, config)

    async def set_tool_enabled(
        self, name: str, enabled: bool, operator: str | None = None
    ) -> ExecutionConfig:
        self.registry.get(name)
        return await self.policy.update(
            {"tool_enabled": {name: enabled}}, operator or self.operator
        )

    async def config(self) -> ExecutionConfig:
        return await self.policy.current()

    async def update_config(
        self, changes: dict[str, Any], operator: str | None = None
    ) -> ExecutionConfig:
        return await self.policy.update(changes, operator or self.operator)

    async def lockdown(self) -> tuple[bool, str]:
        """(on?, why) — the environment switch wins over the stored config."""
        if self.settings.security_lockdown_mode:
            return True, "SECURITY_LOCKDOWN_MODE"
        return (await self.policy.current()).lockdown, "config"

    # -- approvals ------------------------------------------------------------------------

    async def grant(
        self,
        tool: str,
        args: dict[str, Any] | None = None,
        *,
        tool_scoped: bool = False,
        operator: str | None = None,
        ttl_sec: float = 300.0,
    ) -> Grant:
        """Mint a single-use grant for `tool` with exactly `args` (or any args if tool_scoped)."""
        spec = self.registry.get(tool)
        if tool_scoped and args:
            raise InputError("args: a tool-scoped grant takes no arguments")
        canonical = None if tool_scoped else canonical_args(spec, args or {})[1]
        return await self.approvals.issue_grant(
            tool, canonical, operator or self.operator, ttl_sec=ttl_sec
        )

    def as_agent(self, name: str) -> AgentSession:
        """This engine as agent `name` sees it: run, request, read its own — never decide."""
        from engine.agents import AgentSession

        return AgentSession(self, name)

    async def request_approval(self, request: RunRequest) -> ApprovalRequest:
        """An agent's request straight into the inbox; nothing runs until an operator approves."""
        return await self.executor.request_approval(request)

    async def preflight(self, request: RunRequest) -> None:
        """Raise the refusal `request` would meet now (typed), without recording anything."""
        await self.executor.preflight(request)

    async def pending_approvals(self) -> list[ApprovalRequest]:
        return await self.approvals.list(ApprovalStatus.PENDING)

    async def approve(
        self, request_id: str, operator: str | None = None, reason: str = ""
    ) -> RunResult:
        """Approve a pending request and run it once, exactly as stored."""
        operator = operator or self.operator
        approved = ApprovalStatus.APPROVED
        await self.approvals.refuse_decider(request_id, approved, operator)  # audited
        request = await self.approvals.get(request_id)
        run_request = RunRequest(
            tool=request.tool,
            args=request.args,
            dry_run=False,
            requester=request.requester,
            reason=request.reason,
            task_id=request.task_id,
        )
        if self.approvals.is_pending(request):
            await self.executor.preflight(run_request)  # refuse now rather than approve in vain
        try:
            async with self.db.transaction() as tx:
                decided = await self.approvals.decide(tx, request_id, approved, operator, reason)
        except ApprovalError:
            await self.approvals.expire_if_due(request_id)  # found expired: record it now
            raise
        return await self.executor.run(run_request, approved=decided)

    async def deny(
        self, request_id: str, reason: str, operator: str | None = None
    ) -> ApprovalRequest:
        reason = reason.strip()
        if not reason:
            raise InputError("reason: a denial needs a reason")
        operator = operator or self.operator
        await self.approvals.refuse_decider(request_id, ApprovalStatus.DENIED, operator)  # audited
        try:
            async with self.db.transaction() as tx:
                return await self.approvals.decide(
                    tx, request_id, ApprovalStatus.DENIED, operator, reason
                )
        except ApprovalError:
            await self.approvals.expire_if_due(request_id)  # found expired: record it now
            raise

    async def extend(
        self, request_id: str, seconds: float, operator: str | None = None
    ) -> ApprovalRequest:
        """Give a pending request more time before it expires (bounded; audited)."""
        try:
            async with self.db.transaction() as tx:
                return await self.approvals.extend(
                    tx, request_id, seconds, operator or self.operator
                )
        except ApprovalError:
            await self.approvals.expire_if_due(request_id)  # found expired: record it now
            raise

    # -- events ---------------------------------------------------------------------------

    async def start_watching(self) -> None:
        """Publish events written by other processes on this engine's bus."""
        if not any(t.get_name() == "daena-event-watcher" for t in self._background):
            start = await self.db.last_event_id()
            self._spawn(self._watch(start), "daena-event-watcher")

    def start_probing(self, interval: float) -> None:
        """Health-check the enabled nodes now and then every `interval` seconds (once per
        engine). The console starts it once its first section is drawn: a probe's HTTP
        client and connections (~150 ms of CPU) are not what the operator waits for."""
        if not any(t.get_name() == "daena-node-probe" for t in self._background):
            self._spawn(self._probe_loop(interval), "daena-node-probe")

    def _spawn(self, coro: Any, name: str) -> None:
        self._background.append(asyncio.create_task(coro, name=name))

    async def stop_background(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()

    async def _index_audit_backlog(self) -> None:
        # Best effort: until it finishes, searches scan the records not yet indexed.
        with contextlib.suppress(EngineError):
            await self.audit.index_backlog()

    async def _renew_leases(self) -> None:
        while True:
            with contextlib.suppress(EngineError):  # the server away: renew when it is back
                await self.leases.heartbeat()
            await asyncio.sleep(LEASE_HEARTBEAT_SEC)

    async def _probe_loop(self, interval: float) -> None:
        while True:
            with contextlib.suppress(EngineError):
                await self.nodes.probe_all()
            await asyncio.sleep(interval)

    async def _watch(self, last_id: int) -> None:
        while True:
            try:
                rows = await self.db.events_after(last_id)
            except EngineError:
                rows = []
            for row in rows:
                last_id = int(row["id"])
                if row["origin"] == self.db.origin:
                    continue
                event = Event.from_row(row["kind"], json.loads(row["payload"]))
                if event is not None:
                    self.bus.publish(event)
            if len(rows) < 500:
                await self.db.wait_for_events(WATCH_INTERVAL_SEC)  # PostgreSQL: a NOTIFY

    async def prune_events(self, older_than_sec: float = EVENT_RETENTION_SEC) -> int:
        """The events table is a feed for live updates, not a history (the audit log is):
        delete older events, in batches (engine/sweeps.py); returns how many."""
        return await self.sweeper.prune_events(older_than_sec)

    async def _sweep(self) -> None:
        with contextlib.suppress(EngineError):
            await self.sweeper.run()

    async def record(self, entry: AuditEntry) -> int:
        """Append an audit record in its own transaction (for front ends' own actions)."""
        return await self.audit.record(entry)


__all__ = ["Engine", "RunRequest", "RunResult", "RunStatus", "ToolInfo"]
