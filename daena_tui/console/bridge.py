"""The one place engine events enter the console.

The bridge subscribes to the engine's bus (which, with `watch=True`, also carries events
written by other processes) and turns each event into an `EngineEventReceived` message for
the App and for each screen on the current stack that wants it: a receiver says which
events it acts on (`wants_event`), and one without that method gets none. An agent's
runs are two events each (`RunFinished`, `AuditAppended`) that most sections do nothing
with; a Textual message costs its dispatch, the receiver's idle handling and a wakeup, so
at 50 runs/s the messages nobody acted on were most of the console's cost per run
(BENCHMARKS.md §17). Screens not on the stack catch up when they are shown again (they
reload on `ScreenResume`), so an event one was not sent is never one it misses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import engine
from daena_tui.console.messages import EngineEventReceived

if TYPE_CHECKING:
    from textual.app import App
    from textual.message_pump import MessagePump


def wants(receiver: MessagePump, event: engine.Event) -> bool:
    """Whether `receiver` acts on `event` (its `wants_event`; none: it acts on none)."""
    wants_event = getattr(receiver, "wants_event", None)
    return wants_event is not None and bool(wants_event(event))


class EngineBridge:
    def __init__(self, app: App[int]) -> None:
        self._app = app

    async def pump(self, eng: engine.Engine) -> None:
        """Forward events until cancelled (the App runs this in a worker)."""
        with eng.bus.subscription() as queue:
            while True:
                event: engine.Event = await queue.get()
                self.dispatch(event)

    def dispatch(self, event: engine.Event) -> None:
        for receiver in (self._app, *self._app.screen_stack):
            if wants(receiver, event):
                receiver.post_message(EngineEventReceived(event))
