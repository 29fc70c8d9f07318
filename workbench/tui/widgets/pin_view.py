"""Explore's pin page: the image, title, description and attributes, and the boards it is on."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from workbench.services.explore import PinPage
from workbench.tui.widgets.pin_image import PinImage
from workbench.tui.widgets.rows_table import RowsTable

PIN_FIELDS = ("pin", "title", "description", "image")


def attribute_grid(row: dict[str, Any], skip: tuple[str, ...]) -> Table:
    """``key  value`` lines for the attributes of a pin or board row."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, value in row.items():
        if key not in skip and value is not None:
            grid.add_row(key, str(value))
    return grid


class PinView(Vertical):
    """Top: picture and text; below: a table of the pin's boards (Enter opens one)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="pin-top"):
            yield PinImage(id="pin-picture")
            yield Static(id="pin-text")
        table = RowsTable(id="pin-boards", classes="panel")
        table.border_title = "Boards"
        yield table

    detail: PinPage | None = None
    """The page on show (the last one read, when ``m`` read more)."""

    def show(self, detail: PinPage, shown: list[tuple[str, list[Any]]] | None = None) -> None:
        """Show ``detail``; its boards follow the rows already ``shown`` (``m``: more rows)."""
        self.detail = detail
        row = detail.row
        if not shown:
            self.query_one(PinImage).show(row.get("image"))
            text = Table.grid()
            text.add_row(Text(str(row.get("title") or "(no title)"), style="bold"))
            text.add_row(Text(str(row.get("description") or ""), style="italic"))
            text.add_row("")
            text.add_row(attribute_grid(row | {"boards": f"{detail.degree:,}"}, PIN_FIELDS))
            self.query_one("#pin-text", Static).update(text)
        table = self.query_one(RowsTable)
        extra = [
            k
            for k in (detail.boards[0] if detail.boards else {})
            if k not in ("board", "name", "pins")
        ]
        if not shown:
            table.set_columns("Board", "Name", "Pins", *extra)
        rows = (shown or []) + [
            (
                b["board"],
                [
                    b["board"],
                    b.get("name") or "",
                    Text(f"{b['pins']:,}", justify="right"),
                    *(str(b.get(k) or "") for k in extra),
                ],
            )
            for b in detail.boards
        ]
        table.set_rows(rows)
        table.border_title = (
            f"Boards with pin {detail.pin} ({page_count(len(rows), detail.degree)})"
        )

    @property
    def more(self) -> bool:
        """Whether the pin is on more boards than the list shows."""
        return self.detail is not None and self.query_one(RowsTable).row_count < self.detail.degree


def page_count(shown: int, total: int) -> str:
    """``554`` when all are shown, else ``200 of 554 · m more``."""
    return f"{total:,}" if shown >= total else f"{shown:,} of {total:,} · m more"
