"""Tasks over HTTP (docs/architecture.md, flow (c)): create from a playbook or a goal, list, show,
run, resume, cancel. Runs happen in the background (202); poll `GET /tasks/{id}` for progress.

If the engine's task service cannot be loaded, every task route answers 503
"tasks are not available in this build".
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from daena_tui.api.capped import counted
from daena_tui.api.errors import ApiError
from daena_tui.api.models import TaskActionBody, TaskCreateBody
from daena_tui.api.roles import OPERATOR, role
from daena_tui.api.state import ApiState, OperatorDep, StateDep, engine_dep
from engine import EngineError
from engine.tasks import TaskService

log = logging.getLogger("daena.api")
router = APIRouter()

TaskStatusQuery = Literal[
    "all",
    "pending",
    "running",
    "waiting_approval",
    "completed",
    "failed",
    "budget_exhausted",
    "cancelled",
    "interrupted",
]
TERMINAL = frozenset({"completed", "failed", "budget_exhausted", "cancelled"})


async def tasks_dep(request: Request) -> TaskService:
    return engine_dep(request).tasks


TasksDep = Annotated[TaskService, Depends(tasks_dep)]


async def _drive(tasks: TaskService, task_id: str, operator: str, action: str) -> None:
    """Run or resume in the background; the outcome is the task's status, not an answer."""
    try:
        if action == "run":
            await tasks.run(task_id, operator=operator)
        else:
            await tasks.resume(task_id, operator=operator)
    except EngineError as err:
        log.warning("task %s: %s did not go on: %s", task_id, action, err.message)
    except Exception:
        log.exception("task %s: %s failed", task_id, action)


@router.get("/tasks", summary="tasks, newest first (without steps)", openapi_extra=role(OPERATOR))
async def list_tasks(
    tasks: TasksDep,
    response: Response,
    status: TaskStatusQuery = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """At most `limit`; `X-Total-Count` and `X-Truncated` say how many there are."""
    rows = await tasks.list(status, limit)
    counted(response, len(rows), await tasks.count(status))
    return [t.to_dict() for t in rows]


@router.post(
    "/tasks",
    status_code=201,
    summary="create a task from a playbook or a goal",
    openapi_extra=role(OPERATOR),
    responses={202: {"description": "created and started (`run: true`), in the background"}},
)
async def create_task(
    body: TaskCreateBody, tasks: TasksDep, state: StateDep, operator: OperatorDep
) -> JSONResponse:
    """Exactly one of `playbook` (with `variables`) or `goal` (the planner). With
    `run: true` the task starts at once in the background (202)."""
    if (body.playbook is None) == (body.goal is None):
        raise ApiError(422, "invalid_input", "playbook: give exactly one of playbook or goal")
    budget: dict[str, Any] = {
        "max_steps": body.max_steps,
        "max_retries": body.max_retries,
        "max_seconds": body.max_seconds,
        "operator": operator,
    }
    if body.playbook is not None:
        task = await tasks.create_from_playbook(
            body.playbook, body.variables, goal=body.goal, **budget
        )
    else:
        if body.variables:
            raise ApiError(422, "invalid_input", "variables: only a playbook task takes variables")
        task = await tasks.create_from_goal(body.goal or "", **budget)
    if not body.run:
        return JSONResponse(task.to_dict(), status_code=201)
    state.spawn(_drive(tasks, task.id, operator, "run"), f"daena-api-task-{task.id}")
    return JSONResponse(task.to_dict(), status_code=202)


@router.get(
    "/tasks/{task_id}",
    summary="one task with its steps, budget and artifacts",
    openapi_extra=role(OPERATOR),
)
async def get_task(task_id: str, tasks: TasksDep) -> dict[str, Any]:
    return (await tasks.get(task_id)).to_dict()


async def _start(
    tasks: TaskService, state: ApiState, task_id: str, operator: str, action: str
) -> JSONResponse:
    task = await tasks.get(task_id)
    if str(task.status) in TERMINAL:
        raise ApiError(409, "conflict", f"id: task {task_id} is {task.status}; it cannot {action}")
    if str(task.status) == "running":
        raise ApiError(409, "conflict", f"id: task {task_id} is already running")
    state.spawn(_drive(tasks, task_id, operator, action), f"daena-api-task-{task_id}")
    return JSONResponse(task.to_dict(), status_code=202)


@router.post(
    "/tasks/{task_id}/run",
    status_code=202,
    summary="start a task (background)",
    openapi_extra=role(OPERATOR),
)
async def run_task(
    task_id: str, tasks: TasksDep, state: StateDep, operator: OperatorDep
) -> JSONResponse:
    return await _start(tasks, state, task_id, operator, "run")


@router.post(
    "/tasks/{task_id}/resume",
    status_code=202,
    summary="continue a task (background)",
    openapi_extra=role(OPERATOR),
)
async def resume_task(
    task_id: str, tasks: TasksDep, state: StateDep, operator: OperatorDep
) -> JSONResponse:
    return await _start(tasks, state, task_id, operator, "resume")


@router.post(
    "/tasks/{task_id}/cancel",
    summary="cancel a task that has not finished",
    openapi_extra=role(OPERATOR),
)
async def cancel_task(
    task_id: str,
    tasks: TasksDep,
    operator: OperatorDep,
    body: TaskActionBody | None = None,
) -> dict[str, Any]:
    task = await tasks.get(task_id)
    if str(task.status) in TERMINAL:
        raise ApiError(409, "conflict", f"id: task {task_id} is already {task.status}")
    reason = body.reason if body is not None else ""
    return (await tasks.cancel(task_id, reason, operator=operator)).to_dict()
