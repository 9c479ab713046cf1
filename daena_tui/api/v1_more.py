"""`/api/v1/execution/*`, the original's other routes (compat/original_api.md §2, §3):
the cookie login and auth status (open, as in the original), the node pairing and probe,
and tasks run one call at a time with their artifacts; plus the open `/health` on the
server root that the original's node smoke script probes.

The cookie carries the very token it was minted from: an agent token's cookie acts as that
agent (its routes only), the operator token's as the operator. Nothing is minted that the
token did not already have, and `X-Operator` has no effect anywhere.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from daena_tui.api.auth import COOKIE_NAME
from daena_tui.api.capped import counted
from daena_tui.api.errors import ApiError
from daena_tui.api.roles import OPERATOR, PUBLIC, role
from daena_tui.api.routes_nodes import DEFAULT_NODE
from daena_tui.api.state import EngineDep, OperatorDep, engine_dep
from daena_tui.api.v1_models import V1NodeConfigBody, V1TaskBody, V1TokenBody
from daena_tui.api.v1_routes import LOCKDOWN_DETAIL, Limit
from daena_tui.api.v1_shapes import artifact_name, task_view
from engine import CredentialError, Engine, NotFoundError, TaskStatus
from engine.credentials import looks_like_agent_token
from engine.tasks.models import Task

COOKIE_MAX_AGE = 7 * 24 * 3600
NO_MORE_STEPS = "Task completed or no more steps"

router = APIRouter()
root_router = APIRouter()


@dataclass(frozen=True)
class AuthInfo:
    """What the open routes need to know about the server's auth (set by `create_api`)."""

    operator_token: bytes | None
    insecure_local: bool


def auth_info(request: Request) -> AuthInfo:
    info: AuthInfo = request.app.state.v1_auth
    return info


@root_router.get("/health", summary="liveness (open)", openapi_extra=role(PUBLIC))
async def health() -> dict[str, Any]:
    return {"status": "ok", "service": "daena"}


@router.post(
    "/token-cookie",
    summary="v1: set the daena_execution_token cookie (open)",
    openapi_extra=role(PUBLIC),
)
async def token_cookie(request: Request, body: V1TokenBody) -> JSONResponse:
    """The cookie holds the given token, so it carries that token's credential and role
    (an agent token's cookie is that agent, never the operator). A wrong token is 401."""
    info = auth_info(request)
    given = body.token.strip().encode("utf-8")
    valid = info.operator_token is not None and hmac.compare_digest(given, info.operator_token)
    if not valid and looks_like_agent_token(body.token.strip()):
        try:
            await engine_dep(request).credentials.verify(body.token.strip())
            valid = True
        except CredentialError:
            valid = False
    if not valid and info.operator_token is None:
        raise ApiError(
            400,
            "not_configured",
            "Execution Layer is disabled: EXECUTION_TOKEN is not set on the server",
        )
    if not valid:
        raise ApiError(401, "unauthorized", "Invalid token.")
    response = JSONResponse({"success": True, "message": "Token cookie set (7 days)."})
    response.set_cookie(
        COOKIE_NAME,
        given.decode("utf-8"),
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get(
    "/auth-status", summary="v1: how this server authenticates (open)", openapi_extra=role(PUBLIC)
)
async def auth_status(request: Request) -> dict[str, Any]:
    info = auth_info(request)
    enabled = info.operator_token is not None or info.insecure_local
    local = info.insecure_local and info.operator_token is None
    if not enabled:
        message = "Execution Layer is disabled: EXECUTION_TOKEN is not set on the server."
    elif local:
        message = "Local dev: requests from this machine need no token (--insecure-local)."
    else:
        message = "Paste the execution token (X-Execution-Token) to use the Execution Layer."
    return {
        "success": True,
        "execution_enabled": enabled,
        "localhost_bypass": local,
        "token_required_for_ui": not local,
        "cookie_supported": True,
        "message": message,
    }


# -- node ---------------------------------------------------------------------------------


@router.get("/node/health", summary="v1: probe the paired node", openapi_extra=role(OPERATOR))
async def v1_node_health(eng: EngineDep) -> dict[str, Any]:
    try:
        await eng.nodes.get(DEFAULT_NODE)
    except NotFoundError:
        error = f"no node {DEFAULT_NODE!r} is paired; POST /node/config with a url"
        return {"success": False, "node": {"status": "error", "error": error}}
    report = await eng.nodes.probe(DEFAULT_NODE)
    node = report.to_dict()
    if not report.ok:
        node["status"] = "error"
        node["error"] = report.message
    return {"success": report.ok, "node": node}


async def _pairing(eng: Engine) -> dict[str, Any]:
    try:
        node = await eng.nodes.get(DEFAULT_NODE)
    except NotFoundError:
        return {"success": True, "url": None, "has_token": False}
    return {"success": True, "url": node.url, "has_token": node.token is not None}


@router.get("/node/config", summary="v1: the paired node's url", openapi_extra=role(OPERATOR))
async def v1_get_node_config(eng: EngineDep) -> dict[str, Any]:
    return await _pairing(eng)


@router.post("/node/config", summary="v1: pair the node (url, token)", openapi_extra=role(OPERATOR))
async def v1_set_node_config(
    body: V1NodeConfigBody, eng: EngineDep, operator: OperatorDep
) -> dict[str, Any]:
    """Omitted fields are unchanged; values are trimmed; an empty token clears it."""
    url = body.url.strip() if body.url is not None else None
    token = body.token.strip() if body.token is not None else None
    if url is None and token is None:  # nothing to change: the current pairing
        return await _pairing(eng)
    try:
        await eng.nodes.get(DEFAULT_NODE)
    except NotFoundError:
        if url is None:
            raise ApiError(404, "not_found", "url: no node is paired yet; give its url") from None
        await eng.nodes.add(DEFAULT_NODE, url, token or None, enabled=True, operator=operator)
        return await _pairing(eng)
    await eng.nodes.update(
        DEFAULT_NODE, url=url, token=token or None, clear_token=token == "", operator=operator
    )
    return await _pairing(eng)


# -- tasks --------------------------------------------------------------------------------

TaskId = Annotated[str, Path(min_length=1, max_length=100)]


async def _task(eng: Engine, task_id: str) -> Task:
    try:
        return await eng.tasks.get(task_id)
    except NotFoundError:
        raise ApiError(404, "not_found", "Task not found") from None


@router.post("/tasks", summary="v1: create a task from a goal", openapi_extra=role(OPERATOR))
async def v1_create_task(body: V1TaskBody, eng: EngineDep, operator: OperatorDep) -> dict[str, Any]:
    task = await eng.tasks.create_from_goal(
        body.goal, max_steps=body.max_steps, max_retries=body.max_retries, operator=operator
    )
    return {"success": True, "task_id": task.id}


@router.get("/tasks", summary="v1: tasks, newest first", openapi_extra=role(OPERATOR))
async def v1_list_tasks(eng: EngineDep, response: Response, limit: Limit = 50) -> dict[str, Any]:
    """At most `limit`; `total` and `truncated` say how many there are."""
    rows = await eng.tasks.list(None, limit)
    fields = counted(response, len(rows), await eng.tasks.count(None))
    return {"success": True, "tasks": [task_view(t) for t in rows], **fields}


@router.get("/tasks/{task_id}", summary="v1: one task", openapi_extra=role(OPERATOR))
async def v1_get_task(task_id: TaskId, eng: EngineDep) -> dict[str, Any]:
    return {"success": True, "task": task_view(await _task(eng, task_id))}


def _step_result(task: Task, before: int) -> dict[str, Any] | None:
    """The last step this call started, as the original's artifact record."""
    started = [s for s in task.steps if s.index >= before and s.started_at is not None]
    if not started:
        return None
    step = started[-1]
    return {
        "step": step.index,
        "tool_name": step.tool,
        "ts": step.finished_at or step.started_at,
        "result_status": step.run_status or str(step.status),
        "result_summary": (step.result_summary or "")[:500],
        "error": step.error,
        "audit_id": step.audit_id,
        "approval_request_id": step.approval_request_id,
    }


@router.post(
    "/tasks/{task_id}/run", summary="v1: run a task now (synchronous)", openapi_extra=role(OPERATOR)
)
async def v1_run_task(task_id: TaskId, eng: EngineDep, operator: OperatorDep) -> JSONResponse:
    """Runs in this call until the task stops or waits for an approval (our tasks go on by
    themselves; the original did one step per call), then answers `{success, task,
    step_result}`. A task that cannot go on (no planner reachable, budget, denied) answers
    `success: false` with the reason."""
    task = await _task(eng, task_id)
    on, why = await eng.lockdown()
    if on:
        raise ApiError(423, "lockdown", f"{LOCKDOWN_DETAIL} ({why})")
    if task.status.terminal:
        body = {"success": True, "task": task_view(task), "message": NO_MORE_STEPS}
        if task.status != TaskStatus.COMPLETED:
            body["success"] = False
            body["message"] = f"{NO_MORE_STEPS}: the task is {task.status} ({task.reason or ''})"
        return JSONResponse(body)
    if task.status == TaskStatus.RUNNING:
        raise ApiError(409, "conflict", f"task {task_id} is already running")
    before = len(task.steps)
    done = await eng.tasks.run(task_id, operator=operator)
    body = {"success": done.status not in FAILED, "task": task_view(done)}
    body["step_result"] = _step_result(done, before)
    if done.status in FAILED:
        body["error"] = f"the task is {done.status}: {done.reason or 'no reason recorded'}"
    return JSONResponse(body)


FAILED = frozenset(
    {TaskStatus.FAILED, TaskStatus.BUDGET_EXHAUSTED, TaskStatus.CANCELLED, TaskStatus.INTERRUPTED}
)


@router.get(
    "/tasks/{task_id}/artifacts",
    summary="v1: a task's artifact names",
    openapi_extra=role(OPERATOR),
)
async def v1_artifacts(task_id: TaskId, eng: EngineDep) -> dict[str, Any]:
    task = await _task(eng, task_id)
    return {
        "success": True,
        "task_id": task.id,
        "artifacts": [artifact_name(a) for a in task.artifacts],
    }


# The schema states the rule the handler answers 400 for (the original's status), so a
# client reading the schema knows it; validation stays in the handler.
ArtifactName = Annotated[str, Path(json_schema_extra={"pattern": r"^(?!.*\.\.)[^/\\]+$"})]


@router.get(
    "/tasks/{task_id}/artifacts/{filename:path}",
    summary="v1: one artifact (text)",
    openapi_extra=role(OPERATOR),
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def v1_artifact(task_id: TaskId, filename: ArtifactName, eng: EngineDep) -> PlainTextResponse:
    if ".." in filename or "/" in filename or "\\" in filename:
        raise ApiError(400, "bad_request", "filename: must not contain '..', '/' or '\\'")
    task = await _task(eng, task_id)
    for artifact in task.artifacts:
        if artifact_name(artifact) == filename:
            return PlainTextResponse(artifact.content)
    raise ApiError(404, "not_found", "Artifact not found")
