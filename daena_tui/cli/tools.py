"""`daena tools` and `daena run`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from daena_tui.cli.args import parse_json_object, parse_kv, read_argument
from daena_tui.cli.output import table
from daena_tui.cli.session import Cli
from engine import RunRequest, RunResult
from engine.errors import InputError


def register(sub: Any) -> None:
    tools = sub.add_parser("tools", help="list, enable or disable tools")
    actions = tools.add_subparsers(dest="action", metavar="ACTION")
    tools.set_defaults(handler=list_tools)
    actions.add_parser("list", help="list tools").set_defaults(handler=list_tools)
    for verb in ("enable", "disable"):
        p = actions.add_parser(verb, help=f"{verb} a tool")
        p.add_argument("name")
        p.set_defaults(handler=toggle_tool, enabled=verb == "enable")
    show = actions.add_parser("show", help="a tool's description and argument schema")
    show.add_argument("name")
    show.set_defaults(handler=show_tool)

    run = sub.add_parser("run", help="run a tool through policy, approvals and audit")
    add_call_arguments(run)
    run.add_argument("--dry-run", action="store_true", default=None, help="check, execute nothing")
    run.add_argument("--approval", metavar="ID", help="a grant id from 'approvals grant'")
    run.add_argument("--reason", default="", help="why (shown in the inbox if approval is needed)")
    run.add_argument("--requester", default=None, help="who asks (default: the operator)")
    run.set_defaults(handler=run_tool)


def add_call_arguments(parser: argparse.ArgumentParser) -> None:
    """A tool name and its arguments, as `daena run` and `daena explain` take them."""
    parser.add_argument("tool")
    parser.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="K=V",
        help="one argument (K=@FILE: the value is the file's text)",
    )
    parser.add_argument(
        "--args",
        metavar="JSON|@FILE|-",
        help="all arguments as a JSON object, from a file (@FILE) or standard input (-)",
    )


def call_arguments(args: argparse.Namespace, schema: dict[str, Any]) -> dict[str, Any]:
    """The tool arguments given by --args and --arg (an InputError names the option)."""
    tool_args: dict[str, Any] = (
        parse_json_object(read_argument(args.args, "--args", stdin=True), "--args")
        if args.args
        else {}
    )
    tool_args.update(parse_kv(args.arg, schema))
    return tool_args


async def list_tools(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    infos = await eng.list_tools()
    cli.emit(
        [i.to_dict() for i in infos],
        lambda: table(
            [(i.name, i.risk, "on" if i.enabled else "off", i.description) for i in infos],
            ["TOOL", "RISK", "ENABLED", "DESCRIPTION"],
        ),
    )
    return 0


async def toggle_tool(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    await eng.set_tool_enabled(args.name, args.enabled)
    state = "enabled" if args.enabled else "disabled"
    cli.emit({"tool": args.name, "enabled": args.enabled}, f"{args.name} {state}")
    return 0


async def show_tool(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    info = next((i for i in await eng.list_tools() if i.name == args.name), None)
    if info is None:
        eng.registry.get(args.name)  # raises the NotFoundError with the usual message
        return 2
    cli.emit(
        info.to_dict(),
        lambda: (
            f"{info.name} ({info.risk}, {'enabled' if info.enabled else 'disabled'})\n"
            f"{info.description}\n\n{json.dumps(info.schema, indent=2)}"
        ),
    )
    return 0


async def run_tool(args: argparse.Namespace, cli: Cli) -> int:
    """Every attempt is audited: an unknown tool is refused by the engine like any other
    refusal, and arguments that cannot be read are recorded as given, then refused."""
    eng = await cli.engine()
    known = args.tool in eng.registry
    schema = eng.registry.get(args.tool).json_schema() if known else {}
    request = RunRequest(
        tool=args.tool or "?",
        dry_run=args.dry_run,
        approval_id=args.approval,
        reason=args.reason,
        requester=args.requester or eng.operator,
    )
    try:
        tool_args = call_arguments(args, schema)
    except InputError as err:
        given = {"--args": args.args, "--arg": args.arg}
        result = await eng.executor.refuse(request.model_copy(update={"args": given}), err)
    else:
        result = await eng.run(request.model_copy(update={"args": tool_args}))
    cli.emit(result.model_dump(mode="json"), lambda: format_result(result))
    return result.exit_code


def format_result(result: RunResult) -> str:
    head = f"{result.tool}: {result.status}"
    if result.dry_run:
        head += " (dry run)"
    head += f"  [{result.duration_ms:.0f} ms, trace {result.trace_id}, audit #{result.audit_id}]"
    lines = [head]
    if result.error:
        lines.append(f"error: {result.error}")
    if result.approval_request_id:
        lines.append(
            f"approval request {result.approval_request_id} is waiting: "
            f"daena approvals approve {result.approval_request_id}"
        )
    if result.result is not None:
        lines.append(render_output(result.result))
    if result.truncated:
        lines.append("(output truncated)")
    return "\n".join(lines)


def render_output(result: dict[str, Any]) -> str:
    """Show the main text of well-known results as text, anything else as JSON."""
    for key in ("short", "patch", "content", "stdout", "text"):
        value = result.get(key)
        if isinstance(value, str) and value:
            extra = result.get("stderr") if key == "stdout" else None
            return value + (f"\n[stderr]\n{extra}" if extra else "")
    return json.dumps(result, indent=2, ensure_ascii=False)
