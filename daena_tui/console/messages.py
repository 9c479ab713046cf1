"""Textual messages the console posts to itself (past tense: they report what happened)."""

from __future__ import annotations

from textual.message import Message

import engine


class EngineOpened(Message, bubble=False):
    """The engine is open; sections can be shown."""


class EngineEventReceived(Message, bubble=False):
    """An engine event (from this process or, via the watcher, another one) arrived."""

    def __init__(self, event: engine.Event) -> None:
        super().__init__()
        self.event = event
