"""The observer role: an engine that can be read and never changed (`daena web`).

A remote colleague watching through the browser drives a real console; every key they press
reaches the console's code. Hiding keys is not enough, so the console started with
`--observer` holds this view instead of the engine: an allowlist of reading methods, per
component. Anything not on the list (approve, deny, extend, grant, run, toggles, policy,
nodes, tasks, upstream servers, audit export, writes to the database) raises a PolicyError
titled "Observer" before it touches anything. A method added to the engine later is
refused until someone adds it here on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import PolicyError

OBSERVER = "observer"

# name -> None (the attribute itself, a reading method or a value) or a nested allowlist
# (a component, itself wrapped).
View = Mapping[str, "View | None"]

ENGINE_VIEW: View = {
    "operator": None,
    "settings": None,
    "list_tools": None,
    "explain": None,  # what-if: decides on paper, runs and stores nothing
    "config": None,
    "pending_approvals": None,
    "registry": {"get": None, "all": None},
    "approvals": {
        "get": None,
        "list": None,
        "count": None,
        "pending_count": None,
        "is_pending": None,
        "clock": None,
    },
    # Reads only (the console's own queries); write and transaction are refused.
    "db": {
        "read": None,
        "fetchone": None,
        "fetchall": None,
        "events_after": None,
        "last_event_id": None,
        "wait_for_events": None,
        "shown": None,
    },
    "audit": {
        "get": None,
        "page": None,
        "after": None,
        "of_run": None,
        "last_id": None,
        "count": None,
        "iterate": None,
    },
    "tasks": {"get": None, "list": None, "count": None, "list_playbooks": None},
    "nodes": {"list": None, "get": None},
    "bus": {"subscription": None},
    "brain": {"status": None},
    "voice": {"status": None, "muted": None},
    "leases": {"on_this_host": None},
    "upstream": {"store": {"servers": None, "tools": None}},
}


def ObserverRefused(what: str) -> PolicyError:
    """What an observer tried to change; nothing was changed (a PolicyError titled Observer:
    every front end already shows one as a notification)."""
    return PolicyError(
        f"{what}: an observer can see everything and decide nothing", title="Observer"
    )


class ReadOnlyView:
    """`target` seen through `view`: allowed names pass through (components wrapped in turn),
    every other name raises `ObserverRefused`; nothing can be set."""

    __slots__ = ("_path", "_target", "_view")

    def __init__(self, target: Any, view: View, path: str = "engine") -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_view", view)
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name: str) -> Any:
        path = f"{self._path}.{name}"
        if name not in self._view:
            raise ObserverRefused(path)
        value = getattr(self._target, name)
        sub = self._view[name]
        return value if sub is None else ReadOnlyView(value, sub, path)

    def __setattr__(self, name: str, value: Any) -> None:
        raise ObserverRefused(f"{self._path}.{name} =")

    def __delattr__(self, name: str) -> None:
        raise ObserverRefused(f"del {self._path}.{name}")

    def __repr__(self) -> str:
        return f"<read-only {self._path}>"


def observe(eng: Any) -> Any:
    """The observer's engine: `eng` through `ENGINE_VIEW`."""
    return ReadOnlyView(eng, ENGINE_VIEW)
