"""Engine events: frozen dataclasses on an in-process bus, mirrored in the `events` table.

Every state change writes its event row in the same transaction as the change, so another
process (a second console, an agent, the CLI) can follow it; the engine's watcher turns
rows written by other processes back into these objects on the local bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    """Base of every engine event. `kind` is the class name, stored with the row."""

    registry: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Event.registry[cls.__name__] = cls

    @property
    def kind(self) -> str:
        return type(self).__name__

    def payload(self) -> dict[str, Any]:
        """The fields as stored with the row (values are scalars or tuples of them, so a
        shallow dict is what `dataclasses.asdict` would give, at a fifth of its cost)."""
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in dataclasses.fields(self))
        return {name: getattr(self, name) for name in names}

    @staticmethod
    def from_row(kind: str, payload: dict[str, Any]) -> Event | None:
        """Rebuild an event from its row; None for kinds this version does not know."""
        cls = Event.registry.get(kind)
        if cls is None:
            return None
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
        try:
            return cls(**{k: v for k, v in payload.items() if k in names})
        except TypeError:
            return None


_FIELD_NAMES: dict[type[Event], tuple[str, ...]] = {}


@dataclass(frozen=True)
class RunFinished(Event):
    audit_id: int
    tool: str
    status: str
    trace_id: str
    dry_run: bool = False


@dataclass(frozen=True)
class AuditAppended(Event):
    audit_id: int
    action: str
    tool: str | None
    status: str


@dataclass(frozen=True)
class ApprovalRequested(Event):
    request_id: str
    tool: str
    requester: str
    expires_at: float


@dataclass(frozen=True)
class ApprovalDecided(Event):
    request_id: str
    tool: str
    decision: str
    operator: str


@dataclass(frozen=True)
class ApprovalExtended(Event):
    request_id: str
    tool: str
    expires_at: float
    operator: str


@dataclass(frozen=True)
class GrantIssued(Event):
    grant_id: str
    tool: str
    operator: str


@dataclass(frozen=True)
class ConfigChanged(Event):
    keys: tuple[str, ...]
    operator: str


@dataclass(frozen=True)
class TaskChanged(Event):
    task_id: str
    status: str


@dataclass(frozen=True)
class NodeChanged(Event):
    name: str
    change: str


@dataclass(frozen=True)
class NodeHealthChanged(Event):
    name: str
    status: str
    latency_ms: float | None = None
    previous: str = "unknown"


class EventBus:
    """Fan-out of events to any number of subscribers; a slow subscriber loses the oldest."""

    def __init__(self, maxsize: int = 1000) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()
        self._maxsize = maxsize

    def publish(self, event: Event) -> None:
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.contextmanager
    def subscription(self) -> Any:
        """A queue that receives every event published while the block runs."""
        queue: asyncio.Queue[Event] = asyncio.Queue(self._maxsize)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def stream(self) -> AsyncIterator[Event]:
        with self.subscription() as queue:
            while True:
                yield await queue.get()
