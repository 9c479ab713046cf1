"""`daena tasks work`: a claim worker. It takes the oldest task waiting for a worker
(`TaskService.run_next`: pending, or left running by an owner whose heartbeat stopped),
drives it until it stops or waits for an approval, and takes the next; idle, it looks again
every `--poll` seconds. Any number of workers, on any number of hosts sharing the database,
each get different tasks (engine/tasks/claims.py).

SIGTERM or Ctrl-C stops it at once and cleanly: no new task is taken, and a task being
driven is stopped the way the engine stops a run (it ends `interrupted`, audited; `daena
tasks resume` continues it). Exit code 0. Each task driven is one line; with `--json`, one
JSON object per line (the task, and the one interrupted), then `{"stopped": …, "driven": N,
"interrupted": [ids]}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from typing import Any

from daena_tui.cli.output import EXIT_OK
from daena_tui.cli.session import Cli
from engine import InputError, Task, TaskService
from engine.safety.display import json_inert

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def register(actions: Any) -> None:
    work = actions.add_parser(
        "work", help="take and drive waiting tasks, as one of any number of workers"
    )
    work.add_argument("--once", action="store_true", help="drive at most one task, then exit")
    work.add_argument(
        "--poll",
        type=float,
        default=2.0,
        metavar="SEC",
        help="while no task is waiting, look again every SEC seconds (default 2)",
    )
    work.set_defaults(handler=work_tasks)


class Worker:
    """The loop, and the signal that stops it."""

    def __init__(self, tasks: TaskService, cli: Cli, *, once: bool, poll: float) -> None:
        self.tasks, self.cli, self.once, self.poll = tasks, cli, once, poll
        self.stop = asyncio.Event()
        self.stopped_by = "--once" if once else ""
        self.driven = 0
        self._current: asyncio.Task[Task | None] | None = None

    def on_signal(self, sig: signal.Signals) -> None:
        if not self.stop.is_set():
            self.stopped_by = sig.name
            self.stop.set()
        if self._current is not None:
            self._current.cancel()  # the runner records the task interrupted

    async def run(self) -> None:
        while not self.stop.is_set():
            self._current = asyncio.create_task(self.tasks.run_next())
            try:
                task = await self._current
            except asyncio.CancelledError:
                if not self.stop.is_set():
                    raise
                return
            finally:
                self._current = None
            if task is not None:
                self.driven += 1
                self.report(task)
            if self.once:
                return
            if task is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), self.poll)

    def report(self, task: Task) -> None:
        if self.cli.json:
            self._json_line(task.to_dict())
        else:
            self.cli.line(f"{task.id}  {task.status}" + (f": {task.reason}" if task.reason else ""))

    def _json_line(self, data: Any) -> None:
        self.cli.out.write(json_inert(json.dumps(data, default=str, ensure_ascii=False)) + "\n")
        self.cli.out.flush()

    async def finish(self) -> None:
        runner = self.tasks.runner
        stopped = [  # the task this worker was driving when the signal came, if any
            t for t in await self.tasks.list("interrupted", limit=50) if t.owner == runner.owner
        ]
        for task in stopped:
            self.report(task)
        if self.cli.json:
            ids = [t.id for t in stopped]
            self._json_line({"stopped": self.stopped_by, "driven": self.driven, "interrupted": ids})
            return
        if self.once and self.driven == 0:
            self.cli.line("no task is waiting for a worker")
        elif not self.once:
            left = f"; resume with: daena tasks resume {stopped[0].id}" if stopped else ""
            self.cli.line(f"stopped by {self.stopped_by}: {self.driven} task(s) driven{left}")


async def work_tasks(args: argparse.Namespace, cli: Cli) -> int:
    if not args.poll > 0:
        raise InputError(f"--poll: must be a number of seconds above 0, not {args.poll}")
    tasks = (await cli.engine()).tasks
    worker = Worker(tasks, cli, once=args.once, poll=args.poll)
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, worker.on_signal, sig)
    try:
        if not args.once and not cli.json:
            runner = tasks.runner
            cli.line(f"taking tasks on {runner.host} (pid {runner.pid}); Ctrl-C or SIGTERM stops")
        await worker.run()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
    await worker.finish()
    return EXIT_OK
