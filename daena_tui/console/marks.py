"""Which inbox requests the operator marked (space) for one bulk review (b).

Only ids are kept: the review shows each request as the engine stores it, and approving
runs each one by id, so a mark can never carry arguments of its own. Marks on requests that
left the inbox (decided elsewhere, expired) are dropped on every reload.
"""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text

MARK = "● "


class Marks:
    """An ordered set of marked request ids (marking order is review order)."""

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._ids

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def toggle(self, request_id: str) -> bool:
        """Mark or unmark; True when it is marked now."""
        if request_id in self._ids:
            del self._ids[request_id]
            return False
        self._ids[request_id] = None
        return True

    def keep(self, pending: Collection[str]) -> None:
        """Forget marks on requests no longer pending."""
        self._ids = {key: None for key in self._ids if key in pending}

    def clear(self) -> None:
        self._ids.clear()

    def tag(self, request_id: str, cell: str | Text) -> Text:
        """A list cell with the mark in front when the request is marked."""
        text = cell.copy() if isinstance(cell, Text) else Text(cell)
        if request_id in self._ids:
            return Text.assemble((MARK, "bold"), text)
        return text
