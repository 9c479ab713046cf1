"""Engine outcomes as MCP tool results: structured content plus a text rendering.

A refusal is an `isError` result naming the rule (the model can correct itself), never a
protocol error; so are a denial, an expiry and a withdrawal, each saying that nothing ran.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from engine.mcp_sessions import Outcome
from engine.runs import RunResult
from engine.statuses import RunStatus


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True, default=str)


def _result(structured: dict[str, Any], text: str, *, error: bool) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=structured, is_error=error
    )


def from_run(run: RunResult) -> types.CallToolResult:
    structured: dict[str, Any] = {"status": str(run.status), "trace_id": run.trace_id}
    if run.result is not None:
        structured["result"] = run.result
    if run.truncated:
        structured["truncated"] = True
    if run.status in (RunStatus.OK, RunStatus.DRY_RUN):
        shown = run.result or {}
        text = shown["text"] if set(shown) == {"text"} else _json(shown)
        return _result(structured, text, error=False)
    structured["error"] = run.error
    if run.status is RunStatus.REFUSED:
        structured["rule"] = run.refused_by
        return _result(structured, f"refused ({run.refused_by}): {run.error}", error=True)
    return _result(structured, f"{run.status}: {run.error}", error=True)


def from_outcome(outcome: Outcome) -> types.CallToolResult:
    request = outcome.request
    structured: dict[str, Any] = {
        "status": outcome.kind,
        "request_id": request.id,
        "trace_id": request.trace_id,
    }
    if outcome.kind == "ran":
        structured["run_status"] = outcome.run_status
        structured["approved_by"] = request.decided_by
        if outcome.result is not None:
            structured["result"] = outcome.result
        if outcome.run_status == "ok":
            shown = outcome.result or {}
            text = shown["text"] if isinstance(shown, dict) and set(shown) == {"text"} else None
            return _result(structured, text if text is not None else _json(shown), error=False)
        structured["error"] = outcome.error
        return _result(
            structured, f"approved, then {outcome.run_status}: {outcome.error}", error=True
        )
    structured["error"] = outcome.error
    if outcome.kind == "denied":
        structured["denied_by"] = request.decided_by
        return _result(
            structured,
            f"denied by {request.decided_by}, nothing ran: {outcome.error}",
            error=True,
        )
    return _result(structured, f"{outcome.kind}: {outcome.error}", error=True)
