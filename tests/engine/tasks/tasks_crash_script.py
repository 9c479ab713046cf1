"""Runs one playbook task in its own process for the restart tests, which SIGKILL it.

    python tasks_crash_script.py DB WORKSPACE PLAYBOOK_DIR PLAYBOOK

Prints the task id on the first line, then runs the task (approvals off: `auto` mode).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[2])]

from tasks_toolkit import make_registry  # noqa: E402

from engine import Engine, load_settings  # noqa: E402
from engine.tasks import TaskService  # noqa: E402


async def main(db: str, workspace: str, playbooks: str, name: str) -> None:
    settings = load_settings(
        env_file=None,
        DAENA_DB_PATH=db,
        EXECUTION_WORKSPACE_ROOT=workspace,
        DAENA_OPERATOR="agent",
    )
    async with Engine.open(settings, registry=make_registry()) as eng:
        await eng.update_config({"approval_mode": "auto"}, operator="agent")
        tasks = TaskService(eng, playbook_dir=Path(playbooks))
        task = await tasks.create_from_playbook(name)
        print(task.id, flush=True)
        await tasks.run(task.id)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
