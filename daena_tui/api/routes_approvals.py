"""The approvals inbox over HTTP: pending requests, decisions, history, and agents' requests.

`POST /request` is how an agent asks for a tool call without running it: the request is
always stored in the inbox (202), whatever the tool's risk or the approval mode — an
agent's request never runs until an operator approves it, and then it runs once, exactly as
stored. Requests the policy would refuse anyway (lockdown, unknown or disabled tool, invalid
arguments, outside the workspace) are refused at once and audited.

An agent token (`roles.py`) may ask (`POST /request`, as `agent:<name>`) and read its own
requests (`GET /approvals`, `/requests`, `/approvals/{id}`; another's is 404); deciding
(`POST /approvals/{id}`) is the operator's, recorded as `api:<DAENA_OPERATOR>` — the name
comes from the credential, never from a header — and nobody approves their own request.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from daena_tui.api.capped import counted
from daena_tui.api.json_args import require_json_types
from daena_tui.api.models import DecisionBody, InboxRequestBody, envelope
from daena_tui.api.roles import AGENT, OPERATOR, as_itself, role
from daena_tui.api.routes_tools import iso
from daena_tui.api.state import AgentDep, EngineDep, OperatorDep
from engine import ApprovalRequest, RunRequest, RunStatus

router = APIRouter()

RequestStatus = Literal["pending", "approved", "denied", "expired", "all"]
MAX_LIMIT = 1000
PENDING_LIMIT = 500  # what `GET /approvals` has always shown at most


def request_dict(r: ApprovalRequest, now: float | None = None) -> dict[str, Any]:
    """A request as the API shows it; an unswept pending request past expiry is `expired`."""
    data = asdict(r)
    left = r.seconds_left(now)
    if r.status == "pending" and left <= 0:
        data["status"] = "expired"
    data["seconds_left"] = round(left, 1) if data["status"] == "pending" else 0
    data["tool_name"] = r.tool
    data["created"] = iso(r.created_at)
    data["expires"] = iso(r.expires_at)
    return data


@router.get(
    "/approvals",
    summary="pending approval requests, soonest expiry first (an agent: its own)",
    openapi_extra=role(AGENT),
)
async def pending(
    eng: EngineDep,
    agent: AgentDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = PENDING_LIMIT,
) -> list[dict[str, Any]]:
    """At most `limit`; `X-Total-Count` and `X-Truncated` say how many there are."""
    now = time.time()
    rows, total = await listed(eng, agent, "pending", limit)
    counted(response, len(rows), total)
    return [request_dict(r, now) for r in rows]


async def listed(
    eng: EngineDep, agent: AgentDep, status: str | None, limit: int
) -> tuple[list[ApprovalRequest], int]:
    """Requests with `status` (None: all), at most `limit`, and how many there are (an
    agent: only its own)."""
    if agent is not None:
        return await agent.requests(status, limit), await agent.request_count(status)
    return await eng.approvals.list(status, limit), await eng.approvals.count(status)


@router.get(
    "/requests",
    summary="approval requests with their status, newest first (an agent: its own)",
    openapi_extra=role(AGENT),
)
async def requests(
    eng: EngineDep,
    agent: AgentDep,
    response: Response,
    status: RequestStatus = "all",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 200,
) -> list[dict[str, Any]]:
    """At most `limit`; `X-Total-Count` and `X-Truncated` say how many there are."""
    now = time.time()
    rows, total = await listed(eng, agent, None if status == "all" else status, limit)
    counted(response, len(rows), total)
    return [request_dict(r, now) for r in rows]


@router.get(
    "/approvals/{request_id}",
    summary="one approval request with its exact arguments (an agent: its own)",
    openapi_extra=role(AGENT),
)
async def get_request(request_id: str, eng: EngineDep, agent: AgentDep) -> dict[str, Any]:
    if agent is not None:
        return request_dict(await agent.get_request(request_id))
    return request_dict(await eng.approvals.get(request_id))


@router.post(
    "/approvals/{request_id}",
    summary="approve (runs once, as stored) or deny; operator only",
    openapi_extra=role(OPERATOR),
)
async def decide(
    request_id: str, body: DecisionBody, eng: EngineDep, operator: OperatorDep
) -> dict[str, Any]:
    """Decided once: a second decision, or one after expiry, is 409. The decision is
    recorded as `api:<DAENA_OPERATOR>` (the credential's name; `X-Operator` is ignored),
    and a request made under that name cannot be approved by it (403 `own_request`).
    Approving while lockdown is on is 423 (still pending)."""
    if body.decision == "approve":
        result = await eng.approve(request_id, operator=operator, reason=body.reason)
        decided = await eng.approvals.get(request_id)
        return {
            "success": result.ok,
            "decision": "approve",
            "request": request_dict(decided),
            "run": envelope(result),
        }
    decided = await eng.deny(request_id, body.reason, operator=operator)
    return {"success": True, "decision": "deny", "request": request_dict(decided)}


@router.post(
    "/request",
    status_code=202,
    summary="an agent's request into the inbox",
    openapi_extra=role(AGENT),
)
async def inbox_request(
    request: Request, body: InboxRequestBody, eng: EngineDep, agent: AgentDep
) -> JSONResponse:
    """With an agent token the requester is `agent:<name>` (a different `requester` is
    403); with the operator token, `requester` as given (default `agent`)."""
    require_json_types(eng, body.tool_name, body.args)
    if agent is not None:
        given = body.requester if "requester" in body.model_fields_set else None
        await as_itself(request, "requester", given, agent.identity)
        stored = await agent.request(body.tool_name, body.args, reason=body.reason)
    else:
        run_request = RunRequest(
            tool=body.tool_name,
            args=body.args,
            dry_run=False,
            requester=body.requester,
            reason=body.reason,
        )
        stored = await eng.request_approval(run_request)  # refusals raise; handler maps them
    data = request_dict(stored)
    data.update(
        {
            "success": False,
            "approval_request_id": stored.id,
            "status": str(RunStatus.PENDING_APPROVAL),
            "request_status": stored.status,
            "trace_id": stored.trace_id,
        }
    )
    return JSONResponse(data, status_code=202)
