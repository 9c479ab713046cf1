"""One simulated host of the multi-host test and benchmark: a separate process with its own
host name, writing to the shared PostgreSQL database.

    python -m tests.postgres.host_worker HOST RUNS OUT.json

Environment: DAENA_DB_URL (the shared server), DAENA_DB_PATH (where the audit head's key is:
the same file for every host, as an operator copies it to each machine),
EXECUTION_WORKSPACE_ROOT, DAENA_SIM_START (a file whose existence starts every host at once).

It does RUNS audited runs, and in between races the other hosts: it files one approval
request every 10 runs and tries to approve every pending request it sees (each must be
decided exactly once), and tries to run every pending task (each must be driven by one
host). It writes what it did to OUT.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path


async def work(host: str, runs: int, out: Path) -> None:
    from engine import ApprovalError, Engine, EngineError, load_settings

    settings = load_settings(env_file=None, DAENA_OPERATOR=f"op@{host}")
    did: dict[str, object] = {
        "host": host,
        "runs": 0,
        "approved": [],
        "tasks_run": [],
        "errors": [],
    }
    start = Path(os.environ["DAENA_SIM_START"])
    async with Engine.open(settings) as eng:
        deadline = time.monotonic() + 60
        while not start.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        began = time.monotonic()
        for i in range(runs):
            result = await eng.run("git_status")
            assert result.status == "ok", result
            did["runs"] = int(str(did["runs"])) + 1
            if i % 10 == 0:
                await eng.as_agent(f"agent-{host}").request(
                    "filesystem_write",
                    {"path": f"sim/{host}-{i}.txt", "content": f"{host} {i}\n"},
                    reason=f"{host} {i}",
                )
                for request in await eng.approvals.list(status="pending"):
                    try:
                        await eng.approve(request.id, reason="sim")
                        assert isinstance(did["approved"], list)
                        did["approved"].append(request.id)
                    except ApprovalError:
                        pass  # another host decided it first
                for task in await eng.tasks.list(status="pending"):
                    with contextlib.suppress(EngineError):  # another host claimed it
                        await eng.tasks.run(task.id)
                        assert isinstance(did["tasks_run"], list)
                        did["tasks_run"].append(task.id)
        did["seconds"] = time.monotonic() - began
        try:
            did["verify"] = (await eng.audit.verify()).ok
        except EngineError as err:
            did["errors"] = [str(err)]
    out.write_text(json.dumps(did))


def main() -> None:
    host, runs, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    socket.gethostname = lambda: host  # this process acts as another machine
    asyncio.run(work(host, runs, out))


if __name__ == "__main__":
    main()
