"""`daena nodes`: the node registry and node health."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from daena_tui.cli.output import fail, table, when
from daena_tui.cli.session import Cli
from engine import InputError, Node
from engine.nodes.client import DEFAULT_PROBE_TIMEOUT

MIN_TIMEOUT, MAX_TIMEOUT = 0.1, 300.0


def register(sub: Any) -> None:
    p = sub.add_parser("nodes", help="paired machines (nodes) and their health")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(handler=list_nodes)
    actions.add_parser("list", help="the registry").set_defaults(handler=list_nodes)
    add = actions.add_parser("add", help="pair a node")
    add.add_argument("name")
    add.add_argument("url", help="e.g. http://192.0.2.10:18888")
    _token_options(add)
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    add.set_defaults(handler=add_node)
    edit = actions.add_parser("edit", help="change a node's url, token or switch")
    edit.add_argument("name")
    edit.add_argument("--url")
    _token_options(edit)
    edit.add_argument("--clear-token", action="store_true")
    switch = edit.add_mutually_exclusive_group()
    switch.add_argument("--enable", dest="enabled", action="store_const", const=True)
    switch.add_argument("--disable", dest="enabled", action="store_const", const=False)
    edit.set_defaults(handler=edit_node, enabled=None)
    remove = actions.add_parser("remove", help="forget a node")
    remove.add_argument("name")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(handler=remove_node)
    health = actions.add_parser("health", help="probe nodes now (all enabled ones by default)")
    health.add_argument("name", nargs="?")
    health.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_PROBE_TIMEOUT,
        metavar="SEC",
        help=f"each probe's deadline (default {DEFAULT_PROBE_TIMEOUT:g}); all are probed at once",
    )
    health.set_defaults(handler=node_health)


def _token_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--token", help="the node's token (visible in your shell history)")
    group.add_argument("--token-env", metavar="VAR", help="read the token from this variable")
    group.add_argument("--token-stdin", action="store_true", help="read the token from stdin")


def _token(args: argparse.Namespace) -> str | None:
    if args.token_env:
        value = os.environ.get(args.token_env)
        if not value:
            raise InputError(f"--token-env: variable {args.token_env} is not set")
        return value
    if args.token_stdin:
        return sys.stdin.readline().strip()
    token: str | None = args.token
    return token


def _rows(nodes: list[Node]) -> str:
    return table(
        [
            (
                n.name,
                n.url,
                "on" if n.enabled else "off",
                n.status,
                "" if n.latency_ms is None else f"{n.latency_ms:.0f} ms",
                when(n.last_seen),
                n.message or "",
            )
            for n in nodes
        ],
        ["NODE", "URL", "ENABLED", "STATUS", "LATENCY", "LAST SEEN", "MESSAGE"],
    )


async def list_nodes(args: argparse.Namespace, cli: Cli) -> int:
    nodes = await (await cli.engine()).nodes.list()
    cli.emit([n.to_dict() for n in nodes], lambda: _rows(nodes) if nodes else "no nodes")
    return 0


async def add_node(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    node = await eng.nodes.add(
        args.name, args.url, _token(args), enabled=not args.disabled, operator=eng.operator
    )
    cli.emit(
        node.to_dict(),
        f"node {node.name} added ({node.url}); check it: daena nodes health {node.name}",
    )
    return 0


async def edit_node(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    node = await eng.nodes.update(
        args.name,
        url=args.url,
        token=_token(args),
        clear_token=args.clear_token,
        enabled=args.enabled,
        operator=eng.operator,
    )
    cli.emit(node.to_dict(), f"node {node.name} updated")
    return 0


async def remove_node(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    await eng.nodes.get(args.name)
    if not args.yes:
        if not sys.stdin.isatty():
            return fail("--yes: removing a node needs --yes when not run interactively")
        answer = (
            (await asyncio.to_thread(input, f"Remove node {args.name}? [y/N] ")).strip().lower()
        )
        if answer not in ("y", "yes"):
            cli.line("kept")
            return 0
    await eng.nodes.remove(args.name, operator=eng.operator)
    cli.emit({"removed": args.name}, f"node {args.name} removed")
    return 0


async def node_health(args: argparse.Namespace, cli: Cli) -> int:
    timeout = float(args.timeout)
    if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:  # also refuses nan
        raise InputError(f"--timeout: must be between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds")
    eng = await cli.engine()
    if args.name:
        reports = {args.name: await eng.nodes.probe(args.name, timeout)}
    else:
        reports = await eng.nodes.probe_all(timeout=timeout)
    nodes = [await eng.nodes.get(name) for name in reports]
    cli.emit(
        {name: r.to_dict() for name, r in reports.items()},
        lambda: _rows(nodes) if nodes else "no enabled nodes",
    )
    return 0 if all(r.ok for r in reports.values()) else 1
