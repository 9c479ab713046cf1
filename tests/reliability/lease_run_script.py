"""Runs one blocking medium-risk tool (no task) in its own process, for the lease tests.

    python lease_run_script.py DB WORKSPACE kill|quit

Prints "started" once the tool blocks. `kill`: then waits to be SIGKILLed. `quit`: then
cancels the run and leaves the engine normally, as quitting the console mid-run does.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests" / "engine" / "tasks"), str(ROOT)]

from tasks_toolkit import make_registry  # noqa: E402

from engine import Engine, load_settings  # noqa: E402


async def main(db: str, workspace: str, mode: str) -> None:
    settings = load_settings(
        env_file=None, DAENA_DB_PATH=db, EXECUTION_WORKSPACE_ROOT=workspace, DAENA_OPERATOR="op"
    )
    async with Engine.open(settings, registry=make_registry()) as eng:
        await eng.update_config({"approval_mode": "auto"}, operator="op")
        run = asyncio.create_task(eng.run("wait_medium", {"line": "w"}, requester="console"))
        marker = Path(workspace) / "started.marker"
        while not marker.exists():
            await asyncio.sleep(0.02)
        print("started", flush=True)
        if mode == "kill":
            await run  # blocks until the test kills this process
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
