"""Row tables whose Enter action is named in the footer (DataTable hides its own)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable


class RowTable(DataTable[str | Text]):
    """A row-cursor table; subclasses name what Enter does."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Open")]

    def __init__(self, *, id: str | None = None, zebra_stripes: bool = False) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=zebra_stripes)

    def current_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if value is None else str(value)


class ToolTable(RowTable):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Run form")]


class AuditTable(RowTable):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Detail")]


class TaskTable(RowTable):
    # Enter runs the task, as `g` does (the footer names `g` once).
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Run", show=False)]


class NodeTable(RowTable):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Edit")]
