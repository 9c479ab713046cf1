"""`daena explain TOOL`: which rule would decide a call, under the current policy or a changed one.

Nothing runs and nothing is recorded: the engine admits the call with the executor's own
checks and stops there (engine/explain.py). `--set KEY=VALUE` asks "what if" a policy
change were saved, without saving it.
"""

from __future__ import annotations

import argparse
from typing import Any

from daena_tui.cli.output import EXIT_USAGE, fail
from daena_tui.cli.session import Cli
from daena_tui.cli.tools import add_call_arguments, call_arguments
from engine import EngineError, InputError
from engine.explain import Decision
from engine.policy import parse_value
from engine.runs import RunRequest


def register(sub: Any) -> None:
    explain = sub.add_parser(
        "explain", help="which rule would decide a call (runs nothing, records nothing)"
    )
    add_call_arguments(explain)
    explain.add_argument("--dry-run", action="store_true", default=None, help="as a dry run")
    explain.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="decide under the policy with this change (not saved), e.g. approval_mode=auto",
    )
    explain.set_defaults(handler=explain_call)


async def explain_call(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    schema = eng.registry.get(args.tool).json_schema() if args.tool in eng.registry else {}
    try:
        changes = policy_changes(args.set)
        request = RunRequest(
            tool=args.tool, args=call_arguments(args, schema), dry_run=args.dry_run
        )
        decision = await eng.explain(request, policy_changes=changes)
    except EngineError as err:
        return fail(err.message, EXIT_USAGE)
    cli.emit({"tool": args.tool, "policy_changes": changes, **decision.as_dict()}, shown(decision))
    return 0


def policy_changes(pairs: list[str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--set: {pair!r} must look like key=value")
        changes[key] = parse_value(key, raw)
    return changes


def shown(decision: Decision) -> str:
    risk = f" ({decision.risk} risk)" if decision.risk else ""
    return f"{decision.outcome}{risk}: {decision.text}\nrule: {decision.rule}"
