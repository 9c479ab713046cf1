"""Nodes: machines that run tools for the engine over HTTP (SPEC §8)."""

from __future__ import annotations

from engine.nodes.client import NodeClient, NodeHealthReport, NodeStatus, NodeToolTimeout
from engine.nodes.registry import Node, NodeRegistry

__all__ = [
    "Node",
    "NodeClient",
    "NodeHealthReport",
    "NodeRegistry",
    "NodeStatus",
    "NodeToolTimeout",
]
