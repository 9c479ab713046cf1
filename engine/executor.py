"""The run pipeline: policy decision, approval, execution and audit of one tool call.

Decision order (docs/architecture.md, "Flow (a)"): lockdown → unknown tool → disabled →
invalid arguments → allowlist/confinement check → dry run → needs approval (grant or request) → run.
Every outcome, refusals included, is audited exactly once; a real run of a tool that can
change something also records its start first, so nothing like that executes unrecorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from engine.approvals import ApprovalRequest, Approvals, is_agent_identity
from engine.audit import AuditEntry, AuditLog
from engine.errors import (
    ApprovalError,
    EngineError,
    LockdownError,
    PolicyError,
    StorageError,
    ToolDisabledError,
)
from engine.events import RunFinished
from engine.explain import (
    REQUESTED,
    Decision,
    admitted,
    approval_needed,
    approved_by,
    granted,
    record_rule,
    record_rule_async,
    refused,
)
from engine.policy import ExecutionConfig, PolicyStore
from engine.runs import (
    RunRequest,
    RunResult,
    canonical_args,
    cap_result,
    refusal_code,
)
from engine.statuses import RunStatus
from engine.storage.database import Database, SyncTransaction
from engine.tools.registry import ToolRegistry
from engine.tools.spec import Risk, ToolContext, ToolSpec

CHECK_IN_THREAD_CHARS = 4096
"""Arguments holding more text than this are checked in a worker thread: a check's work
grows with them (a patch of 40,000 files is 40,000 confinements, ~30 s), and on the event
loop it would freeze the console or the API server meanwhile. Smaller ones stay on the loop
(a thread hop costs more than their check)."""


def text_size(value: Any, stop: int = CHECK_IN_THREAD_CHARS) -> int:
    """The characters of text in `value` (keys, strings, nested) plus one per item (a long
    list of short paths is as much work as a long text), counted up to `stop`."""
    total, todo = 0, [value]
    while todo and total <= stop:
        item = todo.pop()
        total += 1
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list | tuple):
            todo.extend(item)
    return total


class Executor:
    """Runs requests through policy, approvals and audit."""

    def __init__(
        self,
        db: Database,
        registry: ToolRegistry,
        policy: PolicyStore,
        approvals: Approvals,
        audit: AuditLog,
        context: Callable[[str], ToolContext],
        forced_lockdown: bool = False,
    ) -> None:
        self._db = db
        self._registry = registry
        self._policy = policy
        self._approvals = approvals
        self._audit = audit
        self._context = context
        self._forced_lockdown = forced_lockdown
        self.catalogue_sync: Callable[[], Awaitable[object]] | None = None
        """Brings the registry up to date (upstream MCP tools another process added)."""

    async def ensure_known(self, tool: str) -> None:
        if tool not in self._registry and self.catalogue_sync is not None:
            with contextlib.suppress(EngineError):  # else refused as unknown, and audited
                await self.catalogue_sync()

    async def run(self, req: RunRequest, *, approved: ApprovalRequest | None = None) -> RunResult:
        await self.ensure_known(req.tool)
        trace_id = approved.trace_id if approved and approved.trace_id else uuid.uuid4().hex[:16]
        # An explicit dry run executes nothing real, so it may start from the last policy this
        # engine saw; its recorded outcome is decided on the fresh policy when it is written.
        last = self._policy.last_read if req.dry_run is True and approved is None else None
        config = last or await self._policy.current()
        try:
            spec, model, canonical = await self._admit(req, config, trace_id)
        except EngineError as err:
            if last is None:
                return await self._refuse(req, trace_id, err)
            try:  # a refusal is never decided on a possibly stale policy
                config = await self._policy.current()
                spec, model, canonical = await self._admit(req, config, trace_id)
            except EngineError as fresh_err:
                return await self._refuse(req, trace_id, fresh_err)
        dry_run = config.dry_run_default if req.dry_run is None else req.dry_run
        ctx = self._context(trace_id)
        decision = admitted(spec, config, req.dry_run)  # recorded beside the outcome
        if dry_run:
            return await self._execute(
                req, spec, model, canonical, ctx, trace_id, dry_run=True, decision=decision
            )
        needs_approval = approved is None and approval_needed(spec, config)
        if needs_approval and req.approval_id is None:
            return await self._request_approval(req, canonical, trace_id, decision)
        grant_id = req.approval_id if needs_approval else None
        if approved is not None:
            decision = approved_by(approved.decided_by or "an operator")
        elif grant_id is not None:
            decision = granted(grant_id)
        return await self._execute(
            req,
            spec,
            model,
            canonical,
            ctx,
            trace_id,
            grant_id=grant_id,
            approved=approved,
            decision=decision,
        )

    async def _admit(
        self, req: RunRequest, config: ExecutionConfig, trace_id: str
    ) -> tuple[ToolSpec, BaseModel, dict[str, Any]]:
        spec = self._gate(req.tool, config)
        model, canonical = canonical_args(spec, req.args)
        if spec.check is not None:
            ctx = self._context(trace_id)
            if text_size(req.args) > CHECK_IN_THREAD_CHARS:
                await asyncio.to_thread(spec.check, ctx, model)
            else:
                spec.check(ctx, model)
        return spec, model, canonical

    async def explain(self, req: RunRequest, config: ExecutionConfig) -> Decision:
        """The rule that would decide `req` under `config`; nothing is run or recorded."""
        try:
            spec, _model, _canonical = await self._admit(req, config, "explain")
        except EngineError as err:
            return refused(err)
        return admitted(spec, config, req.dry_run)

    async def refuse(self, req: RunRequest, err: EngineError) -> RunResult:
        """Audit an attempt a front end refused before it could be run, such as a command line
        whose arguments cannot be read, and return it as a refused run."""
        return await self._refuse(req, uuid.uuid4().hex[:16], err)

    async def _refuse(self, req: RunRequest, trace_id: str, err: EngineError) -> RunResult:
        return await self._finish(
            req,
            trace_id,
            RunStatus.REFUSED,
            error=err.message,
            args=req.args,
            refusal=err,
            decision=refused(err),
        )

    def _gate(self, tool: str, config: ExecutionConfig) -> ToolSpec:
        """The policy-dependent part of admission: lockdown, unknown tool, disabled tool."""
        if config.lockdown or self._forced_lockdown:
            raise LockdownError("lockdown: every execution is refused while lockdown is on")
        spec = self._registry.get(tool)
        if not config.enabled(spec.name, spec.default_enabled):
            raise ToolDisabledError(f"tool: {spec.name} is disabled")
        return spec

    async def preflight(self, req: RunRequest) -> None:
        """Raise the refusal a run would meet now, without recording or running anything."""
        await self.ensure_known(req.tool)
        await self._admit(req, await self._policy.current(), "preflight")

    async def _request_approval(
        self, req: RunRequest, canonical: dict[str, Any], trace_id: str, decision: Decision
    ) -> RunResult:
        request, audit_id = await self._store_request(
            req, canonical, trace_id, action="run", decision=decision
        )
        return RunResult(
            status=RunStatus.PENDING_APPROVAL,
            tool=req.tool,
            error=f"needs approval: request {request.id} is waiting in the inbox",
            audit_id=audit_id,
            trace_id=trace_id,
            approval_request_id=request.id,
        )

    async def request_approval(self, req: RunRequest) -> ApprovalRequest:
        """Put a request in the inbox without running anything, whatever its risk.

        The policy is checked first: a request that would be refused anyway is audited as
        refused and raised, so the inbox only holds requests an approval could run.
        """
        trace_id = uuid.uuid4().hex[:16]
        await self.ensure_known(req.tool)
        try:
            _, _, canonical = await self._admit(req, await self._policy.current(), trace_id)
        except EngineError as err:
            entry = AuditEntry(
                actor=req.requester,
                action="request",
                tool=req.tool,
                args=req.args,
                status=RunStatus.REFUSED,
                error=err.message,
                trace_id=trace_id,
                task_id=req.task_id,
            )
            rule = refused(err)

            def write(stx: SyncTransaction) -> None:
                audit_id = self._audit.append_sync(stx, entry)
                record_rule(stx, audit_id, rule, self._audit.redact.text)

            await self._db.write(write)
            raise
        request, _ = await self._store_request(
            req, canonical, trace_id, action="request", decision=REQUESTED
        )
        return request

    async def _store_request(
        self,
        req: RunRequest,
        canonical: dict[str, Any],
        trace_id: str,
        *,
        action: str,
        decision: Decision,
    ) -> tuple[ApprovalRequest, int]:
        async with self._db.transaction() as tx:
            request = await self._approvals.create_request(
                tx,
                tool=req.tool,
                canonical_args=canonical,
                requester=req.requester,
                reason=req.reason,
                task_id=req.task_id,
                trace_id=trace_id,
            )
            audit_id = await self._audit.append(
                tx,
                AuditEntry(
                    actor=req.requester,
                    action=action,
                    tool=req.tool,
                    args=canonical,
                    status=RunStatus.PENDING_APPROVAL,
                    error="needs approval",
                    trace_id=trace_id,
                    task_id=req.task_id,
                    approval_id=request.id,
                ),
            )
            await record_rule_async(tx, audit_id, decision, self._audit.redact.text)
        return request, audit_id

    async def _execute(
        self,
        req: RunRequest,
        spec: ToolSpec,
        model: BaseModel,
        canonical: dict[str, Any],
        ctx: ToolContext,
        trace_id: str,
        *,
        dry_run: bool = False,
        grant_id: str | None = None,
        approved: ApprovalRequest | None = None,
        decision: Decision | None = None,
    ) -> RunResult:
        # Anything that can change something (risk above low) is recorded before it runs.
        if not dry_run and (grant_id is not None or spec.risk.rank > Risk.LOW.rank):
            refusal = await self._record_start(req, spec, canonical, trace_id, grant_id, approved)
            if refusal is not None:
                return await self._finish(
                    req,
                    trace_id,
                    RunStatus.REFUSED,
                    error=refusal.message,
                    args=canonical,
                    approval_id=grant_id,
                    refusal=refusal,
                    decision=refused(refusal),
                )
        started = time.perf_counter()
        result: dict[str, Any] | None = None
        error: str | None = None
        refused_by: EngineError | None = None
        status = RunStatus.DRY_RUN if dry_run else RunStatus.OK
        try:
            if dry_run:
                fn = spec.dry_run or _echo_dry_run
                async with asyncio.timeout(spec.timeout_for(model)):  # no task per run
                    result = await fn(ctx, model)
            else:
                async with asyncio.timeout(spec.timeout_for(model)):
                    result = await spec.run(ctx, model)
        except TimeoutError:
            status, error = RunStatus.TIMEOUT, f"timed out after {spec.timeout_for(model):g} s"
        except PolicyError as err:  # a rule only the run could check (a name's address, a race)
            status, error, refused_by = RunStatus.REFUSED, err.message, err
        except EngineError as err:
            status, error = RunStatus.ERROR, err.message
            result = getattr(err, "result", None)
            if isinstance(result, dict) and result.get("timed_out"):
                status = RunStatus.TIMEOUT
        except Exception as err:  # a tool bug must not take the engine down
            status, error = (
                RunStatus.ERROR,
                f"internal error in {spec.name}: {type(err).__name__}: {err}",
            )
        truncated = False
        uncapped = result  # the audit log redacts before it caps, so it gets the whole result
        if result is not None:
            result, truncated = cap_result(result, spec.output_cap)
        duration = (time.perf_counter() - started) * 1000
        approval_id = approved.id if approved else grant_id
        return await self._finish(
            req,
            trace_id,
            status,
            error=error,
            args=canonical,
            result=result,
            audit_result=uncapped,
            duration_ms=duration,
            dry_run=dry_run,
            truncated=truncated,
            approval_id=approval_id,
            approved=approved,
            refusal=refused_by,
            decision=refused(refused_by) if refused_by is not None else decision,
        )

    async def _record_start(
        self,
        req: RunRequest,
        spec: ToolSpec,
        canonical: dict[str, Any],
        trace_id: str,
        grant_id: str | None,
        approved: ApprovalRequest | None,
    ) -> ApprovalError | None:
        """Consume the grant and record `run_start` in one transaction before executing.

        If the attempt cannot be recorded (database full or read-only) nothing runs; a
        process killed mid-run still leaves its started attempt in the log. Low-risk tools
        only read, so they skip this write. Returns the reason when the grant is refused
        (nothing consumed, nothing recorded yet).
        """

        def begin(stx: SyncTransaction) -> None:
            if grant_id is not None:
                self._approvals.consume_grant(stx, grant_id, spec.name, canonical, trace_id)
            self._audit.append_sync(
                stx,
                AuditEntry(
                    actor=req.requester,
                    action="run_start",
                    tool=spec.name,
                    args=canonical,
                    status="started",
                    trace_id=trace_id,
                    task_id=req.task_id,
                    approval_id=approved.id if approved else grant_id,
                ),
            )

        try:
            await self._db.write(begin)
        except ApprovalError as err:
            return err
        except StorageError as err:
            raise StorageError(
                f"the run could not be recorded, so nothing was executed: {err.message}"
            ) from err
        return None

    async def _finish(
        self,
        req: RunRequest,
        trace_id: str,
        status: RunStatus,
        *,
        error: str | None = None,
        args: Any = None,
        result: dict[str, Any] | None = None,
        audit_result: dict[str, Any] | None = None,
        duration_ms: float = 0.0,
        dry_run: bool = False,
        truncated: bool = False,
        approval_id: str | None = None,
        approved: ApprovalRequest | None = None,
        refusal: EngineError | None = None,
        decision: Decision | None = None,
    ) -> RunResult:
        def write(stx: SyncTransaction) -> tuple[int, RunStatus, EngineError | None]:
            final, late = status, None
            if dry_run and status is RunStatus.DRY_RUN:
                try:  # the outcome a dry run records follows the policy as it is now
                    self._gate(req.tool, self._policy.current_sync(stx))
                except EngineError as err:
                    final, late = RunStatus.REFUSED, err
            tool = self._audit.redact.text(req.tool)  # events are stored too

            def finished(audit_id: int) -> RunFinished:  # stored with the record's own event
                return RunFinished(audit_id, tool, final, trace_id, dry_run)

            audit_id = self._audit.append_sync(
                stx,
                AuditEntry(
                    actor=req.requester,
                    action="dry_run" if dry_run else "run",
                    tool=req.tool,
                    args=args,
                    status=final,
                    error=late.message if late else error,
                    duration_ms=duration_ms,
                    result=None if late else audit_result,
                    trace_id=trace_id,
                    task_id=req.task_id,
                    approval_id=approval_id,
                ),
                then=finished,
            )
            rule = refused(late) if late is not None else decision
            if rule is not None:
                record_rule(stx, audit_id, rule, self._audit.redact.text)
            if approved is not None:
                Approvals.record_run(stx, approved.id, final, audit_id)
            return audit_id, final, late

        try:
            audit_id, status, late = await self._db.write(write)
        except StorageError as err:
            if status in (RunStatus.REFUSED, RunStatus.DRY_RUN):
                raise
            raise StorageError(
                f"{req.tool} ran (status {status}, trace {trace_id}) but its outcome could not be "
                f"recorded: {err.message}"
            ) from err
        if late is not None:
            error, result, refusal, truncated = late.message, None, late, False
        if answers_an_agent(req.requester):
            # The console's secrets (its token, in a commit, a file, any output) go back to
            # an agent redacted, as the audit log keeps them; an operator sees the exact text.
            result = self._audit.redact(result) if result is not None else None
            error = self._audit.redact.text(error) if error else error
        return RunResult(
            status=status,
            tool=req.tool,
            result=result,
            error=error,
            audit_id=audit_id,
            trace_id=trace_id,
            dry_run=dry_run,
            duration_ms=round(duration_ms, 3),
            truncated=truncated,
            refused_by=refusal_code(refusal) if refusal is not None else None,
        )


def answers_an_agent(requester: str) -> bool:
    """True when a run's result goes back to an agent: an agent credential or a task."""
    return is_agent_identity(requester) or requester.startswith("task:")


async def _echo_dry_run(ctx: ToolContext, args: BaseModel) -> dict[str, Any]:
    return {"would_run": True, "args": args.model_dump(mode="json")}
