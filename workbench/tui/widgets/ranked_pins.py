"""A ranking of pins (rank, pin, score, title, attributes) with a preview of the highlighted pin:
what the Recommend and Visual screens show after a run. Its rows have the pin actions of
``RowsTable``: Enter opens the pin page, ``a`` adds to the query, ``v`` similar images, ``e``
explains the rank (run id from ``show(run_id=...)``, else from the title "Run N")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from workbench.tui.widgets.pin_image import PinImage
from workbench.tui.widgets.pin_view import PIN_FIELDS, attribute_grid
from workbench.tui.widgets.rows_table import RowsTable, format_scores


class RankedPins(Vertical):
    """Top: the ranked pins (``<prefix>-table``); below: the highlighted pin's image and text."""

    def __init__(self, prefix: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.prefix = prefix
        self.rows: dict[str, dict[str, Any]] = {}
        """The shown pins' stored columns, by pin id."""

    def compose(self) -> ComposeResult:
        table = RowsTable(id=f"{self.prefix}-table", classes="panel ranked-table")
        table.border_title = "Results"
        yield table
        with Horizontal(id=f"{self.prefix}-preview", classes="panel ranked-preview"):
            yield PinImage(id=f"{self.prefix}-picture", classes="ranked-picture")
            yield Static(id=f"{self.prefix}-pin-text", classes="ranked-pin-text")

    @property
    def table(self) -> RowsTable:
        return self.query_one(RowsTable)

    def show(
        self,
        ranking: Sequence[tuple[int, str, float]],
        pins: list[dict[str, Any]],
        title: str,
        run_id: int | None = None,
    ) -> None:
        """Show ``(rank, pin, score)`` rows with the pins' titles and attributes (``pins`` are
        their ``pins_frame`` rows), focus the table and preview its first pin. ``run_id`` is the
        stored run they come from (what ``e`` explains)."""
        self.rows = {str(p["pin"]): p for p in pins}
        extra = [k for k in (pins[0] if pins else {}) if k not in PIN_FIELDS]
        table = self.table
        table.run_id = run_id
        table.set_columns("Rank", "Pin", "Score", "Title", *extra)
        scores = format_scores([score for _, _, score in ranking])  # one format per column
        table.set_rows([
            (pin, [Text(str(rank), justify="right"), pin, Text(shown, justify="right"),
                   self.rows.get(pin, {}).get("title") or "",
                   *(str(self.rows.get(pin, {}).get(c) or "") for c in extra)])
            for (rank, pin, _), shown in zip(ranking, scores, strict=True)
        ])  # fmt: skip
        table.border_title = title
        table.focus()
        self._preview()

    def clear(self, title: str = "Results") -> None:
        self.rows = {}
        self.table.run_id = None
        self.table.set_rows([])
        self.table.border_title = title
        self.query_one(PinImage).show(None)
        self.query_one(f"#{self.prefix}-pin-text", Static).update("")

    @on(DataTable.RowHighlighted)
    def _preview(self) -> None:
        row = self.rows.get(self.table.cursor_key or "")
        if row is None:
            return
        self.query_one(PinImage).show(row.get("image"))
        self.query_one(f"#{self.prefix}-pin-text", Static).update(
            attribute_grid(row, ("image", "description"))
        )
