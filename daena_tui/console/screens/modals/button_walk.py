"""Left/Right along a dialog's buttons, for keys typed ahead as much as for keys pressed
one by one.

`Widget.focus()` only schedules the change (it runs once the app is idle), so two arrow
keys arriving in one terminal read both started from the same button: in tmux, `Left Left`
from Cancel landed on Deny, not Approve. The focus is set on the screen at once instead,
and a key that arrives before the dialog has focused its default button starts there.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Button


def move_focus(screen: Screen[Any], step: int, default: str | None) -> None:
    buttons = list(screen.query(Button))
    focused = screen.focused
    if focused is None and default:
        focused = screen.query(default).first()
    if isinstance(focused, Button) and focused in buttons:
        screen.set_focus(buttons[(buttons.index(focused) + step) % len(buttons)])
