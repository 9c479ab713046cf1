"""How `/api/v1/execution/*` shows the engine's objects: the original's field names, types
and result shapes (compat/original_api.md §3-§7). The engine keeps its richer typed
results; these are views of them for the original's clients."""

from __future__ import annotations

import json
from typing import Any

from engine import ApprovalRequest, AuditRecord, RunResult, RunStatus
from engine.tasks.models import Task, TaskArtifact

REQUEST_PREFIX = "exr_"
"""The original's execution-request ids start `exr_`; ours (`req_…`) are shown behind it."""
ARG_ALIASES: dict[str, dict[str, str]] = {
    "filesystem_read": {"file": "path"},
    "filesystem_write": {"file": "path", "text": "content"},
    "windows_node_file_read_workspace": {"file": "path"},
    "windows_node_file_write_workspace": {"file": "path", "text": "content"},
    "apply_patch": {"content": "patch"},
    "shell_exec": {"cmd": "command"},
    "sandbox_worker_run": {"cmd": "command"},
    "windows_node_safe_shell_exec": {"cmd": "command"},
}
WRITERS_CREATE_DIRS = frozenset({"filesystem_write", "windows_node_file_write_workspace"})


def original_args(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """The original's argument aliases (`file`, `text`, `content`, `cmd`) as our names; the
    writers create parent directories as the original's did. A name given twice (`file`
    and `path`) is left as is, so validation refuses the unknown one."""
    renamed = dict(args)
    for alias, name in ARG_ALIASES.get(tool, {}).items():
        if alias in renamed and name not in renamed:
            renamed[name] = renamed.pop(alias)
    if tool in WRITERS_CREATE_DIRS:
        renamed.setdefault("create_dirs", True)
    return renamed


def original_result(result: RunResult, workspace: str) -> Any:
    """The result shape the original's clients print (git → stdout/stderr/returncode,
    filesystem_read → {path, content}, a dry run → {dry_run, tool, args_summary})."""
    data = result.result
    if result.status == RunStatus.DRY_RUN:
        summary = data.get("args", data) if isinstance(data, dict) else data
        return {"dry_run": True, "tool": result.tool, "args_summary": summary}
    if not isinstance(data, dict) or result.status != RunStatus.OK:
        return data
    if result.tool == "git_status":
        short = str(data.get("short", ""))
        return {"stdout": short + "\n" if short else "", "stderr": "", "returncode": 0}
    if result.tool == "git_diff":
        return {"stdout": str(data.get("patch", "")), "stderr": "", "returncode": 0}
    if result.tool == "filesystem_read":
        path = str(data.get("path", ""))
        absolute = path if path.startswith("/") else f"{workspace.rstrip('/')}/{path}"
        return {"path": absolute, "content": data.get("content", "")}
    if result.tool == "filesystem_write":
        return {"path": data.get("path"), "written": data.get("bytes_written")}
    return data


def v1_status(result: RunResult) -> str:
    """`ok` (a dry run too, as the original) or `error`."""
    return "ok" if result.ok else "error"


def run_envelope(result: RunResult, workspace: str) -> dict[str, Any]:
    """The original `/run` envelope: `{success, status, result, error, audit_id, trace_id,
    dry_run}`."""
    return {
        "success": result.ok,
        "status": v1_status(result),
        "result": original_result(result, workspace),
        "error": result.error,
        "audit_id": result.audit_id,
        "trace_id": result.trace_id,
        "dry_run": result.dry_run,
    }


def tool_item(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": info["name"],
        "description": info["description"],
        "optional_dependency": None,
        "enabled": info["enabled"],
    }


V1_AGENT_PREFIX = "v1-agent:"
"""The requester of a `/request` the operator token made with the original's `agent_id`
(an informational name, not an agent credential's `agent:<name>`)."""


def _split_actor(actor: str) -> str | None:
    """`agent:<name>` (a credential) or `v1-agent:<name>` → the original's `agent_id`."""
    for prefix in ("agent:", V1_AGENT_PREFIX):
        if actor.startswith(prefix):
            return actor[len(prefix) :]
    return None


def log_entry(record: AuditRecord) -> dict[str, Any]:
    """An audit record as the original's log entry (`ts` in epoch seconds)."""
    return {
        "audit_id": record.id,
        "ts": record.ts,
        "tool_name": record.tool,
        "department": None,
        "agent_id": _split_actor(record.actor),
        "actor": record.actor,
        "reason": None,
        "status": record.status,
        "trace_id": record.trace_id,
        "duration_ms": record.duration_ms,
        "error": record.error,
        "args": json.loads(record.args) if record.args else {},
    }


def external_request_id(request_id: str) -> str:
    return REQUEST_PREFIX + request_id


def internal_request_id(given: str) -> str:
    return given[len(REQUEST_PREFIX) :] if given.startswith(REQUEST_PREFIX) else given


def request_record(r: ApprovalRequest) -> dict[str, Any]:
    """An inbox request as the original's execution-request record."""
    rid = external_request_id(r.id)
    return {
        "approval_request_id": rid,
        "id": rid,
        "request_type": "task_approval" if r.task_id else "execution_request",
        "task_id": r.task_id,
        "tool_name": r.tool,
        "args": r.args,
        "reason": r.reason,
        "agent_id": _split_actor(r.requester),
        "requester": r.requester,
        "department": None,
        "risk_score_estimate": None,
        "dry_run": False,
        "status": "expired" if r.status == "pending" and r.seconds_left() <= 0 else r.status,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "decided_at": r.decided_at,
    }


def artifact_name(artifact: TaskArtifact) -> str:
    """A stored artifact as the file name the original's clients ask for."""
    step = "task" if artifact.step_index is None else f"step_{artifact.step_index}"
    kind = "".join(c if c.isalnum() or c in "-_" else "_" for c in artifact.kind)
    return f"{step}_{kind}_{artifact.id}.txt"


def task_view(task: Task) -> dict[str, Any]:
    """A task with the original's fields (`task_id`, `step_count`, epoch timestamps)."""
    waiting = task.waiting_step()
    return {
        "task_id": task.id,
        "goal": task.goal,
        "status": str(task.status),
        "step_count": task.steps_started,
        "max_steps": task.budget.max_steps,
        "max_retries": task.budget.max_retries,
        "required_approvals": [
            external_request_id(waiting.approval_request_id)
            for waiting in ([waiting] if waiting else [])
            if waiting.approval_request_id
        ],
        "artifacts": [artifact_name(a) for a in task.artifacts],
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "reason": task.reason,
    }
