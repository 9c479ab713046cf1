"""The default node (`windows`, or `?node=`): health probe and its url / token / enabled.

The token is write-only: answers say only whether one is set.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from daena_tui.api.models import NodeConfigBody
from daena_tui.api.roles import OPERATOR, role
from daena_tui.api.state import EngineDep, OperatorDep
from engine import NotFoundError
from engine.nodes import Node

DEFAULT_NODE = "windows"

router = APIRouter()

NodeQuery = Annotated[str, Query(min_length=1, max_length=64)]


def node_view(node: Node) -> dict[str, Any]:
    data = node.to_dict()
    data["node"] = node.name
    data["token_set"] = node.token is not None
    return data


@router.get(
    "/node/health", summary="probe a node now (default: windows)", openapi_extra=role(OPERATOR)
)
async def node_health(eng: EngineDep, node: NodeQuery = DEFAULT_NODE) -> dict[str, Any]:
    target = await eng.nodes.get(node)
    report = await eng.nodes.probe(target.name)
    data = report.to_dict()
    data.update({"node": target.name, "ok": report.ok, "enabled": target.enabled})
    return data


@router.get(
    "/node/config",
    summary="a node's url, whether a token is set, enabled",
    openapi_extra=role(OPERATOR),
)
async def get_node_config(eng: EngineDep, node: NodeQuery = DEFAULT_NODE) -> dict[str, Any]:
    return node_view(await eng.nodes.get(node))


@router.post(
    "/node/config",
    summary="change a node's url, token (write-only) or enabled",
    openapi_extra=role(OPERATOR),
)
async def set_node_config(
    body: NodeConfigBody, eng: EngineDep, operator: OperatorDep
) -> dict[str, Any]:
    """A node that does not exist (e.g. `windows` after it was removed) is added when a
    `url` is given. An empty `token` clears it."""
    name = body.node or DEFAULT_NODE
    try:
        await eng.nodes.get(name)
    except NotFoundError:
        if body.url is None:
            raise
        added = await eng.nodes.add(
            name,
            body.url,
            body.token or None,
            enabled=True if body.enabled is None else body.enabled,
            operator=operator,
        )
        return node_view(added)
    updated = await eng.nodes.update(
        name,
        url=body.url,
        token=body.token or None,
        clear_token=body.token == "",
        enabled=body.enabled,
        operator=operator,
    )
    return node_view(updated)
