"""`daena agents`: the credentials agents use on the HTTP API (security promise 5).

    daena agents token create NAME [--expires 30d]   # prints the token once
    daena agents list                                 # never shows a token
    daena agents revoke NAME

An agent token acts as `agent:NAME`: it may run tools, ask for approvals and read its own
requests and results — never decide, mint grants or change anything (see
`daena_tui/api/roles.py`). Only a hash of the token is stored (`engine.credentials`).
"""

from __future__ import annotations

import argparse
from typing import Any

from daena_tui.cli.output import table, when
from daena_tui.cli.session import Cli
from engine.credentials import DEFAULT_EXPIRES, AgentCredential, parse_expiry


def register(sub: Any) -> None:
    p = sub.add_parser("agents", help="agent credentials for the HTTP API (create, list, revoke)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(handler=list_agents)
    token = actions.add_parser("token", help="mint an agent token")
    token_actions = token.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    create = token_actions.add_parser(
        "create", help="a new token for agent NAME, printed once (only its hash is kept)"
    )
    create.add_argument("name", help="the agent's name; it acts as agent:NAME")
    create.add_argument(
        "--expires",
        default=DEFAULT_EXPIRES,
        metavar="WHEN",
        help="'never', a duration (30m, 12h, 30d, 2w) or an ISO date (default 30d)",
    )
    create.set_defaults(handler=create_token)
    actions.add_parser("list", help="agents and their tokens' state").set_defaults(
        handler=list_agents
    )
    revoke = actions.add_parser("revoke", help="revoke agent NAME's tokens at once")
    revoke.add_argument("name")
    revoke.set_defaults(handler=revoke_agent)


def _expiry(credential: AgentCredential) -> str:
    return "never" if credential.expires_at is None else when(credential.expires_at)


async def create_token(args: argparse.Namespace, cli: Cli) -> int:
    expires_at = parse_expiry(args.expires)
    eng = await cli.engine()
    credential, token = await eng.credentials.mint(
        args.name, operator=eng.operator, expires_at=expires_at
    )
    cli.emit(
        {"credential": credential.to_dict(), "token": token},
        f"agent token for {credential.identity} (expires {_expiry(credential)}):\n"
        f"{token}\n"
        "It is shown only this once; the agent sends it as the X-Execution-Token header.\n"
        f"Revoke it with: daena agents revoke {credential.name}",
    )
    return 0


async def list_agents(args: argparse.Namespace, cli: Cli) -> int:
    credentials = await (await cli.engine()).credentials.list()
    cli.emit(
        [c.to_dict() for c in credentials],
        lambda: (
            table(
                [
                    (
                        c.name,
                        c.id,
                        c.state(),
                        when(c.created_at),
                        c.created_by,
                        _expiry(c),
                        when(c.revoked_at),
                    )
                    for c in credentials
                ],
                ["AGENT", "ID", "STATE", "CREATED", "BY", "EXPIRES", "REVOKED"],
            )
            if credentials
            else "no agent tokens (create one: daena agents token create NAME)"
        ),
    )
    return 0


async def revoke_agent(args: argparse.Namespace, cli: Cli) -> int:
    eng = await cli.engine()
    revoked = await eng.credentials.revoke(args.name, operator=eng.operator)
    cli.emit(
        [c.to_dict() for c in revoked],
        f"revoked {len(revoked)} token(s) of agent:{args.name}; they are refused from now on",
    )
    return 0
