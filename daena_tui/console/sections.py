"""The console's sections: one key, one mode (screen) each, in the order of the nav bar."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    mode: str
    title: str
    summary: str


SECTIONS: tuple[Section, ...] = (
    Section("1", "tools", "Tools", "catalog of tools: risk, enable/disable, open a run form"),
    Section("2", "run", "Run", "run a tool from a form built from its schema"),
    Section("3", "approvals", "Approvals", "inbox of requests waiting for a decision, history"),
    Section("4", "tasks", "Tasks", "tasks the agent runs under a budget"),
    Section("5", "logs", "Logs", "audit log: filter, live tail, verify, export"),
    Section("6", "nodes", "Nodes", "registry of nodes and their health"),
    Section("7", "models", "Models", "model paths, Ollama reachability, voice"),
    Section("8", "policy", "Policy", "approval mode, budgets, dry-run default, lockdown"),
    Section("9", "servers", "Servers", "MCP clients, upstream MCP servers, pinned tools"),
)

BY_MODE = {s.mode: s for s in SECTIONS}
