"""The one place engine events enter the console.

The bridge subscribes to the engine's bus (which, with `watch=True`, also carries events
written by other processes) and turns each event into an `EngineEventReceived` message for
the App and for every screen on the current stack. Screens not on the stack catch up when
they are shown again (they reload on `ScreenResume`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import engine
from daena_tui.console.messages import EngineEventReceived

if TYPE_CHECKING:
    from textual.app import App


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
        self._app.post_message(EngineEventReceived(event))
        for screen in self._app.screen_stack:
            screen.post_message(EngineEventReceived(event))
