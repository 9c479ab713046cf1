"""One task worker of the claim tests: a separate process, optionally acting as another
host, taking tasks with `TaskService.run_next` until none is left.

    python -m tests.postgres.claim_worker HOST OUT.json

HOST "." keeps this machine's name. Environment: DAENA_DB_URL (unset: the SQLite file at
DAENA_DB_PATH), DAENA_DB_PATH, EXECUTION_WORKSPACE_ROOT, DAENA_SIM_START (a file whose
existence starts every worker at once). Writes the ids it drove, in order, and when it
began and ended (the benchmark's tasks/s), to OUT.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests" / "engine" / "tasks"), str(ROOT)]

from tasks_toolkit import make_registry  # noqa: E402

from engine import Engine, load_settings  # noqa: E402


async def work(out: Path) -> None:
    settings = load_settings(env_file=None, DAENA_OPERATOR=f"op@{socket.gethostname()}")
    driven: list[str] = []
    async with Engine.open(settings, registry=make_registry()) as eng:
        start = Path(os.environ["DAENA_SIM_START"])
        deadline = time.monotonic() + 120
        while not start.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        began = time.time()
        while (task := await eng.tasks.run_next()) is not None:
            driven.append(task.id)
        ended = time.time()
    out.write_text(
        json.dumps({"host": socket.gethostname(), "driven": driven, "began": began, "ended": ended})
    )


def main() -> None:
    host, out = sys.argv[1], Path(sys.argv[2])
    if host != ".":
        socket.gethostname = lambda: host  # this process acts as another machine
    asyncio.run(work(out))


if __name__ == "__main__":
    main()
