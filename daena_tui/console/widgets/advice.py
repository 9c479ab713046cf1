"""The inbox detail's advisory note (engine/advice.py), below the exact arguments.

Drawn inert (a `[b]` or an escape in the model's text shows as written), labelled as a
model's advisory, at most a few rows, and hidden whenever there is no note: no model, Ollama
down, a failure, a decided request. It holds no key and no button: nothing here can decide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast
from weakref import WeakKeyDictionary

from rich.text import Text
from textual import work
from textual.widgets import Static

import engine
from daena_tui.console.render import agent_text
from engine.advice import LABEL, NOTE_CHARS, NOTE_LINES, Advice, Advisor

if TYPE_CHECKING:
    from daena_tui.console.app import DaenaApp

_ADVISORS: WeakKeyDictionary[DaenaApp, Advisor] = WeakKeyDictionary()


def advisor_for(app: DaenaApp) -> Advisor:
    """One advisor (one cache of notes by request id) per console."""
    found = _ADVISORS.get(app)
    if found is None:
        found = _ADVISORS[app] = Advisor(app.eng.brain)
    return found


def note_text(advice: Advice) -> Text:
    """The label, then the note; a note written from part of the arguments says so before
    anything else (the widget's few rows must not cut the warning off)."""
    text = Text(style="dim italic")  # the whole note's base style, as before
    if advice.partial:
        text.append(f"advisory — {advice.partial}; ", "bold")
    text.append(f"{LABEL} ({advice.model})\n")
    body = agent_text(advice.text, max_lines=NOTE_LINES, max_chars=NOTE_CHARS, more="")
    return text.append_text(body)


class AdviceNote(Static):
    DEFAULT_CSS = """
    AdviceNote {
        padding: 0 1;
        height: auto;
        max-height: 5;
        overflow: hidden;
        border-left: outer $secondary;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.display = False
        self.advice: Advice | None = None  # what is shown (tests read it)
        self.answers = 0  # questions finished, with or without a note (tests wait on it)
        self._for: str | None = None

    def show(self, request: engine.ApprovalRequest | None) -> None:
        """The note of a pending `request` when there is one; nothing otherwise."""
        if request is None or request.status != "pending":
            self._for, self.advice, self.display = None, None, False
            return
        if request.id != self._for:
            self._for, self.advice, self.display = request.id, None, False
            self._ask(request)

    @work(exclusive=True, group="advice", exit_on_error=False)
    async def _ask(self, request: engine.ApprovalRequest) -> None:
        try:
            advice = await advisor_for(cast("DaenaApp", self.app)).note(request)
        except engine.EngineError:  # the observer's engine refuses the model: no note
            return
        finally:
            self.answers += 1
        if advice is None or advice.request_id != self._for:
            return
        self.advice = advice
        self.update(note_text(advice))
        self.display = True
