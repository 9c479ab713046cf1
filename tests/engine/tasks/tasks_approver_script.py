"""An operator's process that approves one request, for the tests that kill it mid-way.

    python tasks_approver_script.py DB WORKSPACE REQUEST_ID run|decide-only

`run` approves and runs the request as the console does (the test kills it while the tool
blocks); `decide-only` commits the approval and then ends at once, as a process killed
between its decision and the run would.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[2])]

from tasks_toolkit import make_registry  # noqa: E402

from engine import Engine, load_settings  # noqa: E402


async def main(db: str, workspace: str, request_id: str, mode: str) -> None:
    settings = load_settings(
        env_file=None, DAENA_DB_PATH=db, EXECUTION_WORKSPACE_ROOT=workspace, DAENA_OPERATOR="op"
    )
    async with Engine.open(settings, registry=make_registry()) as eng:
        if mode == "run":
            await eng.approve(request_id)
            return
        async with eng.db.transaction() as tx:
            await eng.approvals.decide(tx, request_id, "approved", "op", "")
        os._exit(0)  # no cleanup, no run: the process is gone


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
