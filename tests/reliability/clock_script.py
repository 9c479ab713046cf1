"""One approvals action in its own process, for the clock-step tests (run under libfaketime).

    python clock_script.py DB WORKSPACE request|approve ID|grant|use ID|pending

Prints the process's wall clock (`clock <time.time()>`, so the test can check the step
really applied) and then one line: the result, or `error <message>`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from engine import Engine, EngineError, load_settings  # noqa: E402
from engine.runs import RunRequest  # noqa: E402

WRITE = {"path": "out.txt", "content": "approved text\n"}


async def act(eng: Engine, action: str, arg: str) -> str:
    if action == "request":
        request = RunRequest(tool="filesystem_write", args=WRITE, requester="bot", reason="clock")
        return (await eng.request_approval(request)).id
    if action == "approve":
        result = await eng.approve(arg, operator="op")
        return f"{result.status} {result.error or ''}".strip()
    if action == "grant":
        return (await eng.grant("filesystem_write", WRITE, operator="op", ttl_sec=1.0)).id
    if action == "use":
        result = await eng.run("filesystem_write", WRITE, approval_id=arg)
        return f"{result.status} {result.error or ''}".strip()
    if action == "pending":
        return " ".join(r.id for r in await eng.approvals.list("pending")) or "none"
    raise SystemExit(f"unknown action {action}")


async def main(db: str, workspace: str, action: str, arg: str) -> None:
    print("clock", time.time(), flush=True)
    settings = load_settings(
        env_file=None, DAENA_DB_PATH=db, EXECUTION_WORKSPACE_ROOT=workspace, DAENA_OPERATOR="op"
    )
    async with Engine.open(settings) as eng:  # opening sweeps expired requests
        await eng.set_tool_enabled("filesystem_write", True)
        try:
            print(await act(eng, action, arg), flush=True)
        except EngineError as err:
            print("error", err.message, flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4], *sys.argv[4:5] or [""]))
