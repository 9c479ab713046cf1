"""`daena approvals`: the inbox from the command line.

Requester, reason and arguments are the agent's words: printed inert (controls, bidi and
invisible characters as marks such as `⟨ESC⟩`, blank runs collapsed), labelled, and in `show`
the exact arguments come first. `--json` prints the stored values exactly (as JSON escapes).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from daena_tui.cli.args import parse_duration, parse_json_object, parse_kv
from daena_tui.cli.capped import add_limit_options, limit_of, say_capped
from daena_tui.cli.output import duration, fail, table, when
from daena_tui.cli.session import Cli, exit_code_for
from daena_tui.cli.tools import format_result
from engine import ApprovalRequest, EngineError, RunResult
from engine.safety.display import inert, inert_one_line

LIST_LIMIT = 500


def register(sub: Any) -> None:
    p = sub.add_parser("approvals", help="pending approval requests and grants")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(handler=list_requests, status="pending", limit=LIST_LIMIT, all=False)
    ls = actions.add_parser("list", help="list requests (pending by default)")
    ls.add_argument(
        "--status", default="pending", choices=["pending", "approved", "denied", "expired", "all"]
    )
    add_limit_options(ls, LIST_LIMIT, "requests")
    ls.set_defaults(handler=list_requests)
    show = actions.add_parser("show", help="one request with its exact arguments")
    show.add_argument("id")
    show.set_defaults(handler=show_request)
    approve = actions.add_parser(
        "approve", help="approve requests: each runs once, as shown (no grant is created)"
    )
    approve.add_argument("id", nargs="+", help="one or more request ids, decided in order")
    approve.add_argument("--reason", default="")
    approve.set_defaults(handler=approve_request)
    deny = actions.add_parser("deny", help="deny requests (one reason for all)")
    deny.add_argument("id", nargs="+", help="one or more request ids, decided in order")
    deny.add_argument("--reason", required=True)
    deny.set_defaults(handler=deny_request)
    extend = actions.add_parser("extend", help="give a pending request more time (audited)")
    extend.add_argument("id")
    extend.add_argument("--by", required=True, metavar="DURATION", help="like 90s, 10m or 1h")
    extend.set_defaults(handler=extend_request)
    grant = actions.add_parser("grant", help="a single-use grant for one tool call (TTL 300 s)")
    grant.add_argument("tool")
    grant.add_argument("--args", metavar="JSON", help="the exact arguments the grant allows")
    grant.add_argument("--arg", action="append", default=[], metavar="K=V")
    grant.add_argument("--any-args", action="store_true", help="tool-scoped: any arguments")
    grant.add_argument("--ttl", type=float, default=300.0, help="seconds (default 300)")
    grant.set_defaults(handler=grant_tool)


def request_dict(r: ApprovalRequest) -> dict[str, Any]:
    data = dict(r.__dict__)
    data["seconds_left"] = round(r.seconds_left(), 1) if r.status == "pending" else 0
    return data


async def list_requests(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    status = None if args.status == "all" else args.status
    total = await eng.approvals.count(status)
    requests = await eng.approvals.list(status, limit_of(args, total))
    order = "soonest expiry first" if status == "pending" else "newest first"
    say_capped(len(requests), total, f"{args.status} requests".replace("all ", ""), order)
    now = time.time()
    cli.emit(
        [request_dict(r) for r in requests],
        lambda: (
            table(
                [
                    (
                        r.id,
                        r.tool,
                        inert_one_line(r.requester, 24),
                        duration(r.seconds_left(now)) if r.status == "pending" else r.status,
                        _short(r.args),
                    )
                    for r in requests
                ],
                [
                    "ID",
                    "TOOL",
                    "BY (AGENT)",
                    "LEFT" if status == "pending" else "STATUS",
                    "ARGS (show ID for all)",
                ],
            )
            if requests
            else f"no {args.status if status else ''} approval requests".replace("  ", " ")
        ),
    )
    return 0


def _short(args: dict[str, Any], width: int = 60) -> str:
    return inert_one_line(json.dumps(args, ensure_ascii=False), width)


async def show_request(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    r = await eng.approvals.get(args.id)

    def text() -> str:
        status = r.status + (f" ({duration(r.seconds_left())} left)" if r.is_pending else "")
        lines = [
            f"request   {r.id}",
            f"tool      {r.tool}",
            f"status    {status}",
            "exact arguments (this is what runs):",
        ]
        for key, value in r.args.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines.append(f"  {inert_one_line(key, 80)}:")
            lines.extend(f"    {line}" for line in inert(shown).splitlines() or [""])
        lines.append(f"requested by (agent-supplied): {inert_one_line(r.requester)}")
        reason = inert(r.reason).splitlines() if r.reason else ["-"]
        lines.append(f"agent's reason: {reason[0]}")
        lines.extend(f"    {line}" for line in reason[1:])
        lines.append(f"created   {when(r.created_at)}")
        if r.decided_by:
            lines.append(
                f"decided   {inert_one_line(r.decided_by)} at {when(r.decided_at)}: "
                + inert_one_line(r.decision_reason or "")
            )
        return "\n".join(lines)

    cli.emit(request_dict(r), text)
    return 0


async def approve_request(args: argparse.Namespace, cli: Cli) -> int:
    """Approve each id on its own, in order, exactly as `approve ID` would: each runs once
    with its stored arguments and no grant is created. With several ids a refused one is
    reported and the rest still go on; --json prints one list; the exit code is the worst."""
    eng = await cli.engine()
    if len(args.id) == 1:
        result = await eng.approve(args.id[0], reason=args.reason)
        cli.emit(result.model_dump(mode="json"), _approved(eng.operator, args.id[0], result))
        return result.exit_code
    worst, data, lines = 0, list[dict[str, Any]](), list[str]()
    for request_id in args.id:
        try:
            result = await eng.approve(request_id, reason=args.reason)
        except EngineError as err:
            worst = max(worst, _refused(request_id, err, data))
            continue
        worst = max(worst, result.exit_code)
        data.append({"id": request_id, **result.model_dump(mode="json")})
        lines.append(_approved(eng.operator, request_id, result))
    cli.emit(data, "\n".join(lines))
    return worst


def _approved(operator: str, request_id: str, result: RunResult) -> str:
    return f"approved {request_id} as {operator}\n{format_result(result)}"


def _refused(request_id: str, err: EngineError, data: list[dict[str, Any]]) -> int:
    """Report one id the engine refused to decide (stderr, and in the --json list)."""
    data.append({"id": request_id, "refused": f"{err.title}: {err.message}"})
    return fail(f"{request_id}: {err.title}: {err.message}", exit_code_for(err))


async def deny_request(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    if len(args.id) == 1:
        r = await eng.deny(args.id[0], args.reason)
        cli.emit(request_dict(r), f"denied {r.id} as {r.decided_by}: {r.decision_reason}")
        return 0
    worst, data, lines = 0, list[dict[str, Any]](), list[str]()
    for request_id in args.id:
        try:
            r = await eng.deny(request_id, args.reason)
        except EngineError as err:
            worst = max(worst, _refused(request_id, err, data))
            continue
        data.append(request_dict(r))
        lines.append(f"denied {r.id} as {r.decided_by}: {r.decision_reason}")
    cli.emit(data, "\n".join(lines))
    return worst


async def extend_request(args: argparse.Namespace, cli: Cli) -> int:
    seconds = parse_duration(args.by, "--by")
    eng = await cli.engine()
    r = await eng.extend(args.id, seconds)
    cli.emit(
        request_dict(r),
        f"extended {r.id} by {duration(seconds)}: expires {when(r.expires_at)}"
        f" (in {duration(r.seconds_left())})",
    )
    return 0


async def grant_tool(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    spec = eng.registry.get(args.tool)
    tool_args: dict[str, Any] = parse_json_object(args.args, "--args") if args.args else {}
    tool_args.update(parse_kv(args.arg, spec.json_schema()))
    grant = await eng.grant(args.tool, tool_args, tool_scoped=args.any_args, ttl_sec=args.ttl)
    scope = "any arguments" if grant.tool_scoped else "exactly these arguments"
    cli.emit(
        dict(grant.__dict__),
        f"grant {grant.id} for {grant.tool} ({scope}), single use, "
        f"expires {when(grant.expires_at)}\n"
        f"use it: daena run {grant.tool} --approval {grant.id} ...",
    )
    return 0
