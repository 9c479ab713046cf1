"""Nodes: machines that run tools for the engine over HTTP (docs/windows_node.md)."""

from __future__ import annotations

from engine.errors import NodeToolTimeout
from engine.nodes.client import NodeClient, NodeHealthReport, NodeStatus
from engine.nodes.registry import Node, NodeRegistry

__all__ = [
    "Node",
    "NodeClient",
    "NodeHealthReport",
    "NodeRegistry",
    "NodeStatus",
    "NodeToolTimeout",
]
