"""Tools, runs, grants, the audit log and the execution config (the original core routes).

Agent routes (`roles.py`): `GET /tools`, `POST /run` (as `agent:<name>`; a `requester`
other than that is refused) and `GET /logs` (its own records only). The rest is the
operator's.

`POST /run` answers the original envelope `{success, status, result, error, audit_id,
trace_id, dry_run}` (plus `approval_request_id` when the run waits in the inbox) with:
200 for ok / dry_run / error / timeout (`success` tells them apart), 403 when it needs
approval or the policy refused it, 404 for an unknown tool, 422 for invalid arguments,
423 while lockdown is on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from daena_tui.api.auth import Caller
from daena_tui.api.capped import next_page
from daena_tui.api.json_args import require_json_types
from daena_tui.api.models import (
    ConfigPatch,
    GrantBody,
    RunBody,
    ToolEnabledBody,
    envelope,
)
from daena_tui.api.roles import AGENT, OPERATOR, as_itself, role
from daena_tui.api.state import (
    AgentDep,
    CallerDep,
    EngineDep,
    OperatorDep,
    agent_dep,
    caller_dep,
    engine_dep,
)
from engine import (
    AgentSession,
    AuditFilter,
    Engine,
    ExecutionConfig,
    RunRequest,
    RunResult,
    RunStatus,
)

GRANT_TTL_SEC = 300
MAX_LOG_LIMIT = 1000

router = APIRouter()


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@router.get(
    "/tools",
    summary="every tool: name, description, risk, enabled, argument schema",
    openapi_extra=role(AGENT),
)
async def list_tools(eng: EngineDep) -> list[dict[str, Any]]:
    return [info.to_dict() for info in await eng.list_tools()]


REFUSAL_STATUS = {
    "lockdown": 423,
    "unknown_tool": 404,
    "invalid_args": 422,
    "outside_workspace": 403,
    "disabled": 403,
    "approval": 403,
    "policy": 403,
}


def run_http_status(result: RunResult) -> int:
    """200 for anything that ran (success says how); 403 needs approval; refusals by kind."""
    if result.status == RunStatus.PENDING_APPROVAL:
        return 403
    if result.status != RunStatus.REFUSED:
        return 200
    return REFUSAL_STATUS.get(result.refused_by or "policy", 403)


def run_response(result: RunResult, status: int) -> JSONResponse:
    body = envelope(result)
    if status != 200:
        body["detail"] = result.error or str(result.status)
    return JSONResponse(body, status_code=status)


@router.post(
    "/run", summary="run a tool through policy, approvals and audit", openapi_extra=role(AGENT)
)
async def run_tool(
    request: Request, body: RunBody, eng: EngineDep, caller: CallerDep, agent: AgentDep
) -> JSONResponse:
    """The requester is the caller: `agent:<name>` for an agent token (a different
    `requester` is 403), `requester` or `api:<DAENA_OPERATOR>` for the operator token.
    The plain case is served by `fast_run.FastRunRoute` through `run_v2`, as here."""
    return await run_body(request, body, eng, caller, agent)


async def run_v2(request: Request, body: RunBody) -> JSONResponse:
    """`POST /run` once the caller is authorized and the body valid (`fast_run`)."""
    return await run_body(
        request, body, engine_dep(request), caller_dep(request), agent_dep(request)
    )


async def run_body(
    request: Request, body: RunBody, eng: Engine, caller: Caller, agent: AgentSession | None
) -> JSONResponse:
    require_json_types(eng, body.tool_name, body.args)
    if agent is not None:
        await as_itself(request, "requester", body.requester, agent.identity)
        result = await agent.run(
            body.tool_name,
            body.args,
            dry_run=body.dry_run,
            approval_id=body.approval_id,
            reason=body.reason,
        )
        return run_response(result, run_http_status(result))
    run_request = RunRequest(
        tool=body.tool_name,
        args=body.args,
        dry_run=body.dry_run,
        approval_id=body.approval_id,
        requester=body.requester or caller.identity,
        reason=body.reason,
    )
    result = await eng.run(run_request)  # decides (again), runs and audits
    return run_response(result, run_http_status(result))


@router.post(
    "/approve",
    summary="a single-use grant for one tool (TTL 300 s); operator only",
    openapi_extra=role(OPERATOR),
)
async def approve_tool(
    eng: EngineDep,
    operator: OperatorDep,
    tool_name: Annotated[str, Query(min_length=1, max_length=100)],
    body: GrantBody | None = None,
) -> dict[str, Any]:
    """Without a body (or without `args`) the grant is tool-scoped, as in the original API;
    with `{"args": {...}}` it allows exactly those arguments."""
    args = body.args if body is not None else None
    grant = await eng.grant(
        tool_name, args, tool_scoped=args is None, operator=operator, ttl_sec=GRANT_TTL_SEC
    )
    return {
        "approval_id": grant.id,
        "tool_name": grant.tool,
        "expires_at": iso(grant.expires_at),
        "ttl_seconds": GRANT_TTL_SEC,
        "scope": "tool" if grant.tool_scoped else "args",
        "created_by": grant.created_by,
    }


@router.get(
    "/logs",
    summary="audit records, newest first (an agent: only its own)",
    openapi_extra=role(AGENT),
)
async def logs(
    request: Request,
    response: Response,
    eng: EngineDep,
    agent: AgentDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LOG_LIMIT)] = 100,
    tool: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> list[dict[str, Any]]:
    """A page, newest first; when there are older matching records (or a text under three
    characters was scanned only so far), `Link: <…before_id=N>; rel="next"` continues."""
    filters = AuditFilter(tool=tool, status=status, actor=actor, action=action, text=text)
    if agent is not None:
        await as_itself(request, "actor", actor, agent.identity)
        page = await agent.results(filters, before_id=before_id, limit=limit + 1)
    else:
        page = await eng.audit.page(filters, before_id=before_id, limit=limit + 1)
    records = page[:limit]  # one more than shown: are there older ones?
    if len(page) > limit:
        next_page(response, request, records[-1].id)
    else:  # a bounded scan that stopped (None: it reached the oldest record)
        next_page(response, request, page.scanned_to)
    return [record.to_dict() for record in records]


def config_view(config: ExecutionConfig, eng: Engine) -> dict[str, Any]:
    data = config.export()
    data["budget"] = {
        "max_steps_per_run": config.max_steps_per_run,
        "max_retries_per_tool": config.max_retries_per_tool,
    }
    forced = eng.settings.security_lockdown_mode
    data["lockdown_effective"] = config.lockdown or forced
    data["lockdown_source"] = (
        "SECURITY_LOCKDOWN_MODE" if forced else ("config" if config.lockdown else None)
    )
    return data


@router.get(
    "/config",
    summary="the execution config (tool toggles, approval mode, budget)",
    openapi_extra=role(OPERATOR),
)
async def get_config(eng: EngineDep) -> dict[str, Any]:
    return config_view(await eng.config(), eng)


@router.patch(
    "/config",
    summary="change part of the execution config (validated, audited); operator only",
    openapi_extra=role(OPERATOR),
)
async def patch_config(body: ConfigPatch, eng: EngineDep, operator: OperatorDep) -> dict[str, Any]:
    changes = body.changes()
    if changes.get("budget") == {}:
        changes.pop("budget")
    if not changes:  # nothing to change (all left out or null): the current config
        return config_view(await eng.config(), eng)
    config = await eng.update_config(changes, operator)
    return config_view(config, eng)


@router.patch(
    "/tools/{name}/enabled",
    summary="enable or disable one tool; operator only",
    openapi_extra=role(OPERATOR),
)
async def set_enabled(
    name: str, body: ToolEnabledBody, eng: EngineDep, operator: OperatorDep
) -> dict[str, Any]:
    config = await eng.set_tool_enabled(name, body.enabled, operator)
    spec = eng.registry.get(name)
    return {
        "success": True,
        "name": name,
        "enabled": config.enabled(name, spec.default_enabled),
    }
