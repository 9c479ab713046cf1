"""`daena tasks`: create, watch, run, resume and cancel tasks (docs/architecture.md, flow (c));
`daena tasks work` is a claim worker (daena_tui/cli/task_worker.py).

Exit codes of `run`/`resume`: 0 completed, 3 waiting for an approval, 1 any other stop
(failed, budget exhausted, cancelled, interrupted); 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from daena_tui.cli import task_worker
from daena_tui.cli.capped import add_limit_options, limit_of, say_capped
from daena_tui.cli.output import EXIT_OK, EXIT_REFUSED, EXIT_TOOL_ERROR, duration, table, when
from daena_tui.cli.session import Cli
from engine import InputError, StepStatus, Task, TaskService, TaskStatus, TaskStep

STATUS_CHOICES = [s.value for s in TaskStatus] + ["all"]


def register(sub: Any) -> None:
    p = sub.add_parser("tasks", help="tasks: playbooks or planner goals, run under a budget")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(handler=list_tasks, status="all", limit=50, all=False)

    ls = actions.add_parser("list", help="tasks, newest first")
    ls.add_argument("--status", default="all", choices=STATUS_CHOICES)
    add_limit_options(ls, 50, "tasks")
    ls.set_defaults(handler=list_tasks)

    pb = actions.add_parser("playbooks", help="the playbooks a task can run")
    pb.set_defaults(handler=list_playbooks)

    create = actions.add_parser("create", help="create a task from a playbook or a goal")
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--playbook", metavar="NAME", help="run this playbook's steps")
    source.add_argument("--goal", metavar="TEXT", help="let the planner (Ollama) work on a goal")
    create.add_argument(
        "--var", action="append", default=[], metavar="K=V", help="playbook variable"
    )
    create.add_argument(
        "--var-file",
        action="append",
        default=[],
        metavar="K=PATH",
        help="playbook variable read from a text file (e.g. a patch)",
    )
    create.add_argument("--title", metavar="TEXT", help="the goal shown for a playbook task")
    _budget_arguments(create)
    create.add_argument("--run", action="store_true", help="run it at once")
    create.set_defaults(handler=create_task)

    show = actions.add_parser("show", help="one task with its steps, budget and artifacts")
    show.add_argument("id")
    show.set_defaults(handler=show_task)

    for name, helptext in (
        ("run", "run a pending task (continues a waiting or interrupted one)"),
        ("resume", "continue a task after an approval decision or an interruption"),
    ):
        cmd = actions.add_parser(name, help=helptext)
        cmd.add_argument("id")
        cmd.add_argument(
            "--wait",
            type=float,
            metavar="SEC",
            help="while it waits for an approval, wait up to SEC seconds and go on",
        )
        cmd.add_argument(
            "--rerun-interrupted",
            action="store_true",
            help="run again a step that was running when its process stopped",
        )
        cmd.add_argument(
            "--skip-interrupted",
            action="store_true",
            help="go on without a step that was running when its process stopped",
        )
        cmd.set_defaults(handler=run_task)

    cancel = actions.add_parser("cancel", help="stop a task; its pending approval is denied")
    cancel.add_argument("id")
    cancel.add_argument("--reason", default="")
    cancel.set_defaults(handler=cancel_task)

    task_worker.register(actions)


def _budget_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-steps", type=int, metavar="N", help="most steps (default: policy)")
    p.add_argument("--max-retries", type=int, metavar="N", help="most retries of a step")
    p.add_argument("--max-seconds", type=float, metavar="S", help="most seconds of running time")


async def service(cli: Cli) -> TaskService:
    """The engine's task service (tasks left running by a dead process were recovered at open)."""
    return (await cli.engine()).tasks


def parse_vars(pairs: list[str], files: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--var: {pair!r} must look like name=value")
        values[key] = value
    for pair in files:
        key, sep, raw = pair.partition("=")
        if not sep or not key or not raw:
            raise InputError(f"--var-file: {pair!r} must look like name=path")
        try:
            values[key] = Path(raw).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"--var-file: cannot read {raw}: {err}") from err
    return values


def exit_code(task: Task) -> int:
    if task.status == TaskStatus.COMPLETED:
        return EXIT_OK
    if task.status == TaskStatus.WAITING_APPROVAL:
        return EXIT_REFUSED
    if task.status == TaskStatus.PENDING:
        return EXIT_OK
    return EXIT_TOOL_ERROR


# -- handlers ------------------------------------------------------------------------------


async def list_tasks(args: argparse.Namespace, cli: Cli) -> int:
    tasks = await service(cli)
    total = await tasks.count(args.status)
    found = await tasks.list(args.status, limit=limit_of(args, total))
    what = "tasks" if args.status == "all" else f"{args.status} tasks"
    say_capped(len(found), total, what, "newest first")
    counts = await tasks.store.step_counts([t.id for t in found])
    cli.emit(
        [t.to_dict() | {"steps_total": counts.get(t.id, (0, 0))[0]} for t in found],
        lambda: (
            table(
                [
                    (
                        t.id,
                        t.status,
                        f"{counts.get(t.id, (0, 0))[1]}/{t.budget.max_steps}",
                        t.source,
                        when(t.created_at),
                        _short(t.goal, 48),
                    )
                    for t in found
                ],
                ["ID", "STATUS", "STEPS", "SOURCE", "CREATED", "GOAL"],
            )
            if found
            else "no tasks" + ("" if args.status == "all" else f" with status {args.status}")
        ),
    )
    return EXIT_OK


async def list_playbooks(args: argparse.Namespace, cli: Cli) -> int:
    tasks = await service(cli)
    playbooks, errors = tasks.list_playbooks()

    library = tasks.playbooks
    where = ", ".join(str(d) for d in library.directories)

    def text() -> str:
        lines = [f"playbooks in {where}:"] if playbooks else []
        for pb in playbooks:
            names = ", ".join(
                v.name + (f"={v.default}" if v.default is not None else "") for v in pb.variables
            )
            lines.append(f"  {pb.name}  ({len(pb.steps)} steps; variables: {names or 'none'})")
            if pb.description:
                lines.append(f"      {pb.description}")
            lines.append(f"      from {library.directory_of(pb.name)}")
        lines.extend(f"invalid: {e}" for e in errors)
        return "\n".join(lines) or f"no playbooks in {where}"

    listed = [{**p.summary(), "directory": str(library.directory_of(p.name))} for p in playbooks]
    data = {"directories": [str(d) for d in library.directories], "playbooks": listed}
    cli.emit({**data, "errors": errors}, text)
    return EXIT_OK


async def create_task(args: argparse.Namespace, cli: Cli) -> int:
    tasks = await service(cli)
    budget = {
        "max_steps": args.max_steps,
        "max_retries": args.max_retries,
        "max_seconds": args.max_seconds,
    }
    if args.playbook:
        task = await tasks.create_from_playbook(
            args.playbook, parse_vars(args.var, args.var_file), goal=args.title, **budget
        )
    else:
        if args.var or args.var_file:
            raise InputError("--var: variables belong to playbooks, not to --goal")
        task = await tasks.create_from_goal(args.goal, **budget)
    if args.run:
        task = await _run(tasks, task.id, args, wait=None)
        _show(cli, task, await _cap(tasks))
        return exit_code(task)
    cli.emit(
        task.to_dict(),
        f"created {task.id} ({task.source}, {len(task.steps)} steps, budget "
        f"{task.budget.max_steps} steps)\nrun it: daena tasks run {task.id}",
    )
    return EXIT_OK


async def show_task(args: argparse.Namespace, cli: Cli) -> int:
    tasks = await service(cli)
    _show(cli, await tasks.get(args.id), await _cap(tasks))
    return EXIT_OK


async def run_task(args: argparse.Namespace, cli: Cli) -> int:
    tasks = await service(cli)
    task = await _run(tasks, args.id, args, wait=args.wait)
    _show(cli, task, await _cap(tasks))
    return exit_code(task)


async def cancel_task(args: argparse.Namespace, cli: Cli) -> int:
    tasks = await service(cli)
    task = await tasks.cancel(args.id, args.reason)
    cli.emit(task.to_dict(), f"{task.id}: {task.reason}")
    return EXIT_OK


# -- helpers -------------------------------------------------------------------------------


async def _run(tasks: TaskService, task_id: str, args: Any, wait: float | None) -> Task:
    rerun = bool(getattr(args, "rerun_interrupted", False))
    skip = bool(getattr(args, "skip_interrupted", False))
    if rerun and skip:
        raise InputError("--rerun-interrupted: cannot be combined with --skip-interrupted")
    task = await tasks.run(task_id, rerun_interrupted=rerun, skip_interrupted=skip)
    if wait is not None and task.status == TaskStatus.WAITING_APPROVAL:
        task = await tasks.wait_and_resume(task_id, max_wait_sec=wait)
    return task


async def _cap(tasks: TaskService) -> int:
    return (await tasks.eng.config()).max_steps_per_run


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _show(cli: Cli, task: Task, policy_cap: int) -> None:
    cap = min(task.budget.max_steps, policy_cap)

    def text() -> str:
        limit = task.budget.max_seconds
        time_text = duration(task.running_seconds()) + (
            f" of {duration(limit)}" if limit is not None else ""
        )
        lines = [
            f"task      {task.id}",
            f"goal      {task.goal}",
            f"source    {task.source}"
            + (f"  {json.dumps(task.variables)}" if task.variables else ""),
            f"status    {task.status}" + (f": {task.reason}" if task.reason else ""),
            f"budget    {task.steps_started}/{cap} steps, {task.budget.max_retries} retries "
            f"per step, running time {time_text}",
            f"created   {when(task.created_at)} by {task.created_by}",
        ]
        if task.steps:
            lines.append("steps:")
            rows = [
                (
                    s.index + 1,
                    s.tool + (" (dry run)" if s.dry_run else ""),
                    s.status,
                    s.attempts,
                    f"{s.duration_sec:.1f}s" if s.duration_sec is not None else "",
                    _step_note(s),
                )
                for s in task.steps
            ]
            lines.append(table(rows, ["#", "TOOL", "STATUS", "TRIES", "TIME", "RESULT"]))
        for artifact in task.artifacts:
            lines.append(f"{artifact.kind}:")
            lines.extend(f"  {line}" for line in artifact.content.splitlines()[:40] or [""])
        waiting = task.waiting_step()
        if waiting is not None and waiting.approval_request_id:
            lines.append(
                f"approve:  daena approvals approve {waiting.approval_request_id}  then  "
                f"daena tasks resume {task.id}"
            )
        if task.status == TaskStatus.INTERRUPTED:
            lines.append(f"continue: daena tasks resume {task.id}")
        return "\n".join(lines)

    cli.emit(task.to_dict() | {"step_cap": cap, "shown_at": time.time()}, text)


def _step_note(step: TaskStep) -> str:
    if step.status == StepStatus.WAITING_APPROVAL:
        return f"approval {step.approval_request_id}"
    if step.error:
        return _short(step.error, 60)
    if step.result_summary:
        return _short(step.result_summary, 60)
    return step.title
