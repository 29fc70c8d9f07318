"""A data table whose rows can be marked (space) and copied as TSV (the marked rows, or the row
under the cursor); in a table with a ``Pin`` column, the pin under the cursor can be opened
(Enter), added to the query (a), searched for similar images (v) or explained (e).

Numbers given as ``int``/``float`` cells are formatted here, once for every table: counts with
thousands separators, scores with four decimals (never ``2.9378e+05``), right-aligned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from workbench.tui.messages import PinAction, PinVerb

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp

MARK = "●"
MAX_WIDTH = 48
ID_COLUMNS = ("Pin", "Board", "Id", "Run", "Dataset", "Query")
"""Columns never cut short: an id must be read whole."""
PIN_COLUMN = "pin"
"""A column of pin ids (any case): its rows get the pin actions."""
RUN_IN_TITLE = re.compile(r"\b[Rr]un (\d+)\b")


def format_score(value: float | None) -> str:
    """A score for a table: ``293,780``, ``12.3457``, ``0.0123``, ``1.200e-05``; ``—`` if none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if float(value).is_integer() and magnitude < 1e15:
        return f"{int(value):,}"
    if magnitude >= 1000:
        return f"{value:,.1f}"
    if magnitude >= 0.0001:
        return f"{value:.4f}"
    return f"{value:.3e}"


def format_scores(values: Sequence[float | None]) -> list[str]:
    """A column of scores in one format, so that they line up and compare at a glance: whole
    numbers (``755``) when every score is one (to within float error), else as many decimals as
    the largest score allows (``515.0000`` beside ``12.3457``; one decimal from 1,000 on)."""
    finite = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not finite:
        return [format_score(v) for v in values]
    largest = max(abs(v) for v in finite)
    if largest >= 1e15 or 0 < largest < 0.0001:
        return [format_score(v) for v in values]
    if all(abs(v - round(v)) <= 1e-9 * max(1.0, abs(v)) for v in finite):
        fmt = "{:,.0f}"
    else:
        fmt = "{:,.1f}" if largest >= 1000 else "{:.4f}"
    return [
        "—" if v is None or math.isnan(float(v)) else ("0" if v == 0 else fmt.format(v))
        for v in values
    ]


def format_count(value: int | None) -> str:
    """A count with thousands separators (``750,020``)."""
    return "—" if value is None else f"{value:,}"


def count_of(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,500 boards``: a count with its noun (plural in ``s``)."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def number_cell(value: Any) -> Any:
    """Numbers right-aligned and formatted; anything else as given."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    text = format_count(value) if isinstance(value, int) else format_score(value)
    return Text(text, justify="right")


class RowsTable(DataTable[Any]):
    """A zebra-striped, row-cursor table with a mark column and TSV copy."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Mark", id="mark", show=False),
        Binding("c", "copy_rows", "Copy TSV", id="copy", show=False),
        Binding("a", "pin('add')", "Add to query", id="pin.add"),
        Binding("v", "pin('similar')", "Similar", id="pin.similar"),
        Binding("e", "pin('explain')", "Explain", id="pin.explain"),
    ]

    def __init__(
        self, *, id: str | None = None, classes: str | None = None, open_pins: bool = True
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.marked: list[str] = []
        self._headers: list[str] = []
        self.open_pins = open_pins
        """Enter opens the pin page (else Enter selects the row, for a screen that opens pins
        its own way)."""
        self.run_id: int | None = None
        """The stored run whose ranking this is (for ``e``); else read from a title "Run N"."""

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
        rows = [(key, [number_cell(c) for c in cells]) for key, cells in rows]
        used: set[str] = set()
        for i, header in enumerate(self._headers):
            widths = [_width(cells[i]) for _, cells in rows if i < len(cells)]
            limit = 10**6 if header in ID_COLUMNS else MAX_WIDTH
            key = header if header not in used else f"{header}#{i}"  # e.g. SQL "SELECT 1, 1"
            used.add(key)
            self.add_column(header, key=key, width=min(max([len(header), *widths]), limit))
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

    # -- pins -----------------------------------------------------------------------------------

    @property
    def cursor_pin(self) -> str | None:
        """The pin in the row under the cursor, if this table has a ``Pin`` column."""
        lowered = [h.lower() for h in self._headers]
        if PIN_COLUMN not in lowered or not self.row_count:
            return None
        column = lowered.index(PIN_COLUMN) + 1  # after the mark column
        cells = self.get_row_at(self.cursor_row)
        if column >= len(cells):
            return None
        pin = _plain(cells[column]).strip()
        return pin or None

    @property
    def ranking_run(self) -> int | None:
        """The run whose ranking the table shows: ``run_id``, or "Run N" in its title."""
        if self.run_id is not None:
            return self.run_id
        found = RUN_IN_TITLE.search(str(self.border_title or ""))
        return int(found.group(1)) if found else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pin":
            # Not a table of pins: the key goes on to the screen (e.g. Runs' ``e`` export).
            return self.cursor_pin is not None
        return True

    def action_pin(self, verb: PinVerb) -> None:
        pin = self.cursor_pin
        if pin is not None:
            self.post_message(PinAction(verb, pin, self.ranking_run))

    def action_select_cursor(self) -> None:
        pin = self.cursor_pin if self.open_pins else None
        if pin is None:
            super().action_select_cursor()
        else:
            self.post_message(PinAction("open", pin, self.ranking_run))

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
