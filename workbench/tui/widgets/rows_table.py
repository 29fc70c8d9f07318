"""A data table whose rows can be marked (space) and copied as TSV (the marked rows, or the row
under the cursor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp

MARK = "●"
MAX_WIDTH = 48


class RowsTable(DataTable[Any]):
    """A zebra-striped, row-cursor table with a mark column and TSV copy."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Mark", id="mark"),
        Binding("c", "copy_rows", "Copy TSV", id="copy"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.marked: list[str] = []
        self._headers: list[str] = []

    def set_columns(self, *headers: str) -> None:
        """Name the columns (shown after a narrow mark column); ``set_rows`` fills them."""
        self._headers = list(headers)
        self.set_rows([])

    @property
    def headers(self) -> list[str]:
        return list(self._headers)

    def set_rows(self, rows: list[tuple[str, list[Any]]]) -> None:
        """Replace the rows: ``(key, cells)``; marks and the cursor of keys still present stay.

        Columns are re-made with widths measured here: the table's own auto-width misses rows
        rendered before it measures them.
        """
        cursor_key = self.cursor_key
        self.clear(columns=True)
        keys = {key for key, _ in rows}
        self.marked = [k for k in self.marked if k in keys]
        self.add_column("", key="_mark", width=1)
        for i, header in enumerate(self._headers):
            widths = [_width(cells[i]) for _, cells in rows if i < len(cells)]
            self.add_column(header, key=header, width=min(max([len(header), *widths]), MAX_WIDTH))
        for key, cells in rows:
            self.add_row(MARK if key in self.marked else "", *cells, key=key)
        if cursor_key is not None and cursor_key in keys:
            self.move_cursor(row=self.get_row_index(cursor_key))

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def action_toggle_mark(self) -> None:
        key = self.cursor_key
        if key is None:
            return
        if key in self.marked:
            self.marked.remove(key)
        else:
            self.marked.append(key)
        self.update_cell(RowKey(key), "_mark", MARK if key in self.marked else "")
        self.post_message(self.MarksChanged(self))
        self.action_cursor_down()

    def action_copy_rows(self) -> None:
        keys = self.marked or ([self.cursor_key] if self.cursor_key is not None else [])
        if not keys:
            self.notify("nothing to copy", severity="warning")
            return
        rows = [[_plain(cell) for cell in self.get_row(key)[1:]] for key in keys]
        cast("WorkbenchApp", self.app).copy_rows(self._headers, rows)

    class MarksChanged(Message):
        """Rows were marked or unmarked."""

        def __init__(self, table: RowsTable) -> None:
            super().__init__()
            self.table = table


def _width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


def _plain(cell: Any) -> str:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return text.replace("\t", " ").replace("\n", " ")
