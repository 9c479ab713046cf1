"""`/api/v1/execution/*`, the original's core routes (compat/original_api.md §3, §4, §7):
tools, run, approve, logs, config, the tool switch, the request broker and its approvals.

Same engine, database, auth and audit as `/api/v2`; only the shapes differ. Tool-level
failures (an unknown or disabled tool, invalid arguments, a tool error) are 200 with
`success: false`, as in the original; what ours refuses for security (approval needed,
outside the workspace, a policy rule, lockdown) answers the original's envelope with a
status (403 / 423) and a `detail` saying what was refused and why.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from daena_tui.api.capped import TRUNCATED, counted
from daena_tui.api.errors import ApiError
from daena_tui.api.json_args import require_json_types
from daena_tui.api.roles import AGENT, OPERATOR, refuse, role
from daena_tui.api.routes_approvals import PENDING_LIMIT, listed
from daena_tui.api.routes_tools import GRANT_TTL_SEC
from daena_tui.api.state import (
    AgentDep,
    CallerDep,
    EngineDep,
    OperatorDep,
    agent_dep,
    caller_dep,
    engine_dep,
)
from daena_tui.api.v1_models import V1ConfigPatch, V1DecisionBody, V1RequestBody, V1RunBody
from daena_tui.api.v1_shapes import (
    V1_AGENT_PREFIX,
    internal_request_id,
    log_entry,
    original_args,
    request_record,
    run_envelope,
    tool_item,
)
from engine import (
    AgentSession,
    AuditFilter,
    Engine,
    ExecutionConfig,
    NotFoundError,
    Risk,
    RunRequest,
    RunResult,
    RunStatus,
)

router = APIRouter()

MAX_LIMIT = 1000
LOG_SCAN_RECORDS = 20_000
LOG_PAGE = 500
"""`/logs` shows tool runs only; it looks through at most this many audit records."""
RUN_ACTIONS = frozenset({"run", "dry_run"})
FORBIDDEN_FOR_REQUEST = frozenset({"shell_exec", "filesystem_write"})
LOCKDOWN_DETAIL = "Execution blocked: system is in security lockdown"
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="1..1000 (bounded)")]


async def _same_agent(request: Request, agent: AgentSession | None, agent_id: str | None) -> None:
    """An agent credential acts as itself: an `agent_id` naming another agent is refused."""
    if agent is not None and agent_id is not None and agent_id != agent.name:
        detail = (
            f"agent_id: an agent credential acts as {agent.identity}; leave agent_id out or "
            f"give {agent.name!r} (got {agent_id[:64]!r})"
        )
        await refuse(request, agent.identity, detail, agent_id=agent_id[:64])


@router.get("/tools", summary="v1: {success, tools}", openapi_extra=role(AGENT))
async def v1_tools(eng: EngineDep) -> dict[str, Any]:
    return {"success": True, "tools": [tool_item(t.to_dict()) for t in await eng.list_tools()]}


def _cwd_refusal(eng: Engine, tool: str, args: dict[str, Any]) -> dict[str, Any] | str | None:
    """The original's `cwd` for git tools: the workspace root is accepted (and dropped);
    anything else is refused (our git tools look at the workspace root only)."""
    if tool not in ("git_status", "git_diff") or "cwd" not in args:
        return None
    cwd = args["cwd"]
    if not isinstance(cwd, str):
        return "cwd: must be a string"
    target = (eng.workspace / cwd).resolve()
    if target != eng.workspace:
        return f"cwd: {cwd[:200]!r} is not the workspace root; git tools run there only"
    return {k: v for k, v in args.items() if k != "cwd"}


def _run_answer(result: RunResult, eng: Engine, dry_run: bool) -> JSONResponse:
    body = run_envelope(result, str(eng.workspace))
    body["dry_run"] = dry_run or result.dry_run  # as asked, also when refused before running
    status = 200
    if result.status == RunStatus.PENDING_APPROVAL:
        status = 403
        body["approval_request_id"] = "exr_" + (result.approval_request_id or "")
        body["detail"] = (
            f"Risky tool requires approval: {result.tool} waits in the inbox as "
            f"{body['approval_request_id']}; an operator approves it, or mints a grant with "
            f"POST /approve?tool_name={result.tool} and sends its approval_id"
        )
    elif result.status == RunStatus.REFUSED:
        kind = result.refused_by or "policy"
        if kind == "unknown_tool":
            body["error"] = f"unknown tool: {result.tool}"
        elif kind == "disabled":
            body["error"] = "tool disabled"
        elif kind == "lockdown":
            status = 423
            body["detail"] = f"{LOCKDOWN_DETAIL} ({result.error})"
        elif kind != "invalid_args":  # approval, outside_workspace, policy: refused, 403
            status = 403
            prefix = "Risky tool requires approval: " if kind == "approval" else "Refused: "
            body["detail"] = prefix + (result.error or kind)
    return JSONResponse(body, status_code=status)


@router.post("/run", summary="v1: run a tool, the original envelope", openapi_extra=role(AGENT))
async def v1_run(request: Request, body: V1RunBody) -> JSONResponse:
    """The reference route; the plain case is served by `fast_run.FastRunRoute`, which
    calls `run_v1` as this does."""
    return await run_v1(request, body)


async def run_v1(request: Request, body: V1RunBody) -> JSONResponse:
    """`POST /run` once the caller is authorized and the body valid."""
    # The engine and the caller are read here, not as three more dependencies: each one
    # FastAPI solves costs more than the read (the hottest route; same checks, same 401/503).
    eng, caller, agent = engine_dep(request), caller_dep(request), agent_dep(request)
    await _same_agent(request, agent, body.agent_id)
    args = original_args(body.tool_name, body.args)
    checked = _cwd_refusal(eng, body.tool_name, args)
    if isinstance(checked, str):
        raise ApiError(403, "outside_workspace", f"Refused: {checked}")
    args = checked if checked is not None else args
    reason = body.reason or ""
    if agent is not None:
        result = await agent.run(
            body.tool_name, args, dry_run=body.dry_run, approval_id=body.approval_id, reason=reason
        )
    else:
        run_request = RunRequest(
            tool=body.tool_name,
            args=args,
            dry_run=body.dry_run,
            approval_id=body.approval_id,
            requester=caller.identity,
            reason=reason,
        )
        result = await eng.run(run_request)
    return _run_answer(result, eng, body.dry_run)


@router.post(
    "/approve",
    summary="v1: a single-use grant for one tool (query tool_name); operator only",
    openapi_extra=role(OPERATOR),
)
async def v1_approve(
    eng: EngineDep,
    operator: OperatorDep,
    tool_name: Annotated[str, Query(min_length=1, max_length=100)],
) -> dict[str, Any]:
    """Low-risk tools need none (`approval_id: null`); an unknown tool is 404 (the original
    minted a grant for any name)."""
    if tool_name not in eng.registry:
        raise ApiError(404, "not_found", f"Unknown tool: {tool_name}")
    if eng.registry.get(tool_name).risk == Risk.LOW:
        return {
            "success": True,
            "approval_id": None,
            "message": "Tool is low-risk, no approval needed",
        }
    grant = await eng.grant(
        tool_name, None, tool_scoped=True, operator=operator, ttl_sec=GRANT_TTL_SEC
    )
    return {
        "success": True,
        "approval_id": grant.id,
        "tool_name": grant.tool,
        "ttl_seconds": GRANT_TTL_SEC,
    }


@router.get("/logs", summary="v1: tool runs, newest first", openapi_extra=role(AGENT))
async def v1_logs(
    eng: EngineDep, agent: AgentDep, response: Response, limit: Limit = 50
) -> dict[str, Any]:
    """Tool runs only (the original's log), newest first; an agent sees its own.
    `truncated` says there are older runs (or older records left unlooked at)."""
    found: list[dict[str, Any]] = []
    before: int | None = None
    scanned = 0
    reached_oldest = False
    while len(found) <= limit and scanned < LOG_SCAN_RECORDS:  # one more: are there more?
        if agent is not None:
            page = await agent.results(AuditFilter(), before_id=before, limit=LOG_PAGE)
        else:
            page = await eng.audit.page(AuditFilter(), before_id=before, limit=LOG_PAGE)
        scanned += len(page)
        found.extend(log_entry(r) for r in page if r.action in RUN_ACTIONS)
        if len(page) < LOG_PAGE:
            reached_oldest = True
            break
        before = page[-1].id
    logs = found[:limit]
    truncated = len(found) > limit or not reached_oldest
    response.headers[TRUNCATED] = "true" if truncated else "false"
    return {"success": True, "logs": logs, "count": len(logs), "truncated": truncated}


def config_v1(config: ExecutionConfig, eng: Engine) -> dict[str, Any]:
    enabled = {s.name: config.enabled(s.name, s.default_enabled) for s in eng.registry.all()}
    return {
        "tool_enabled": enabled,
        "approval_mode": config.approval_mode,
        "require_approval_for_risky": config.require_approval_for_risky,
        "max_steps_per_run": config.max_steps_per_run,
        "max_retries_per_tool": config.max_retries_per_tool,
        "dry_run_default": config.dry_run_default,
    }


@router.get("/config", summary="v1: {success, config}", openapi_extra=role(OPERATOR))
async def v1_get_config(eng: EngineDep) -> dict[str, Any]:
    return {"success": True, "config": config_v1(await eng.config(), eng)}


@router.patch(
    "/config",
    summary="v1: change the config (validated); operator only",
    openapi_extra=role(OPERATOR),
)
async def v1_patch_config(
    body: V1ConfigPatch, eng: EngineDep, operator: OperatorDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    config = await (eng.update_config(changes, operator) if changes else eng.config())
    return {"success": True, "config": config_v1(config, eng)}


@router.patch(
    "/tools/{tool_name}/enabled",
    summary="v1: switch a tool (query enabled); operator only",
    openapi_extra=role(OPERATOR),
)
async def v1_set_enabled(
    tool_name: str,
    enabled: Annotated[bool, Query()],
    eng: EngineDep,
    operator: OperatorDep,
) -> dict[str, Any]:
    if tool_name not in eng.registry:
        raise ApiError(404, "not_found", f"Unknown tool: {tool_name} (not stored)")
    config = await eng.set_tool_enabled(tool_name, enabled, operator)
    spec = eng.registry.get(tool_name)
    return {
        "success": True,
        "tool_name": tool_name,
        "enabled": config.enabled(tool_name, spec.default_enabled),
    }


@router.post("/request", summary="v1: an agent's request into the inbox", openapi_extra=role(AGENT))
async def v1_request(
    request: Request, body: V1RequestBody, eng: EngineDep, caller: CallerDep, agent: AgentDep
) -> dict[str, Any]:
    """Into the inbox; nothing runs until an operator approves it (then once, as stored)."""
    await _same_agent(request, agent, body.agent_id)
    if body.tool_name not in eng.registry:
        raise ApiError(400, "unknown_tool", f"Unknown tool: {body.tool_name}")
    if body.tool_name in FORBIDDEN_FOR_REQUEST:
        raise ApiError(
            403,
            "refused",
            f"{body.tool_name} cannot be requested through /request (as in the original)",
        )
    args = original_args(body.tool_name, body.args)
    require_json_types(eng, body.tool_name, args)
    if agent is not None:
        stored = await agent.request(body.tool_name, args, reason=body.reason)
    else:
        # Not `agent:<name>`: that name belongs to an agent credential (its own requests).
        requester = f"{V1_AGENT_PREFIX}{body.agent_id}" if body.agent_id else "agent"
        run_request = RunRequest(
            tool=body.tool_name, args=args, dry_run=False, requester=requester, reason=body.reason
        )
        stored = await eng.request_approval(run_request)
    record = request_record(stored)
    return {
        "success": True,
        "request_id": record["approval_request_id"],
        "status": "pending",
        "message": "Request stored; an operator approves or denies it in the inbox",
    }


@router.get("/approvals", summary="v1: pending requests", openapi_extra=role(AGENT))
async def v1_approvals(eng: EngineDep, agent: AgentDep, response: Response) -> dict[str, Any]:
    """At most PENDING_LIMIT; `total` and `truncated` say how many are pending."""
    rows, total = await listed(eng, agent, "pending", PENDING_LIMIT)
    shown = [request_record(r) for r in rows]
    return {"success": True, "approvals": shown, **counted(response, len(rows), total)}


@router.get("/requests", summary="v1: requests, newest first", openapi_extra=role(AGENT))
async def v1_requests(
    eng: EngineDep, agent: AgentDep, response: Response, limit: Limit = 50
) -> dict[str, Any]:
    """At most `limit`; `total` and `truncated` say how many there are."""
    rows, total = await listed(eng, agent, None, limit)
    shown = [request_record(r) for r in rows]
    return {"success": True, "requests": shown, **counted(response, len(rows), total)}


@router.post(
    "/approvals/{approval_request_id}",
    summary="v1: approve (runs once, as stored) or deny; operator only",
    openapi_extra=role(OPERATOR),
)
async def v1_decide(
    approval_request_id: str, body: V1DecisionBody, eng: EngineDep, operator: OperatorDep
) -> dict[str, Any]:
    """Decided once: deciding again is 409 (the original re-ran an approved request)."""
    rid = internal_request_id(approval_request_id)
    try:
        await eng.approvals.get(rid)
    except NotFoundError:
        raise ApiError(404, "not_found", "Approval request not found") from None
    answer: dict[str, Any] = {
        "success": True,
        "approval_request_id": approval_request_id,
        "approved": body.approved,
    }
    if body.approved:
        result = await eng.approve(rid, operator=operator, reason=body.reason)
        answer["execution_result"] = run_envelope(result, str(eng.workspace))
    else:
        await eng.deny(rid, body.reason or "denied through /api/v1 (no reason given)", operator)
    return answer
