"""`daena timeline TRACE` (or `--task ID`): one run's or task's audit records as a story.

Request → decision (who, why) → start → outcome, each line naming its audit record, so
`daena logs show ID` (or the console's Logs detail) opens the record itself.
"""

from __future__ import annotations

import argparse
from typing import Any

from daena_tui.cli.output import EXIT_USAGE, fail, table, when
from daena_tui.cli.session import Cli
from engine.timeline import Timeline, timeline


def register(sub: Any) -> None:
    p = sub.add_parser("timeline", help="one run's (trace) or task's story from the audit log")
    p.add_argument("trace", nargs="?", help="the run's trace id (see daena logs)")
    p.add_argument("--task", metavar="ID", help="a task's timeline instead")
    p.set_defaults(handler=show_timeline)


async def show_timeline(args: argparse.Namespace, cli: Cli) -> int:
    if bool(args.trace) == bool(args.task):
        return fail("timeline: give a trace id or --task ID (one of them)", EXIT_USAGE)
    eng = await cli.engine()
    found = await timeline(eng.audit, trace_id=args.trace, task_id=args.task)
    if not found.steps:
        what = f"trace {args.trace!r}" if args.trace else f"task {args.task!r}"
        return fail(f"timeline: no audit records for {what}", EXIT_USAGE)
    cli.emit(found.as_dict(), lambda: text(found))
    return 0


def text(found: Timeline) -> str:
    rows = [
        (s.audit_id, when(s.ts), s.stage, s.actor, s.action, s.status, s.detail[:60])
        for s in found.steps
    ]
    shown = table(rows, ["AUDIT", "TIME", "STAGE", "WHO", "ACTION", "STATUS", "DETAIL"])
    if found.waiting_for:
        shown += f"\nwaiting for {found.waiting_for}"
    return shown
