"""Explore's board page: name, attributes and the topics of its pins; its pins as a grid or list."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Static

from workbench.services.explore import BoardPage
from workbench.tui.widgets.pin_grid import PinGrid
from workbench.tui.widgets.pin_tile import PinTile
from workbench.tui.widgets.pin_view import PIN_FIELDS, attribute_grid, page_count
from workbench.tui.widgets.rows_table import RowsTable


class BoardView(Vertical):
    """Top: what the board is; below: its pins as image tiles or as a table (``toggle_layout``)."""

    def compose(self) -> ComposeResult:
        yield Static(id="board-text")
        with ContentSwitcher(initial="board-grid", id="board-pins", classes="panel"):
            yield PinGrid(id="board-grid")
            # Explore opens a board's pins in place (its own history), not as a pin page.
            yield RowsTable(id="board-list", open_pins=False)

    detail: BoardPage | None = None
    """The page on show (the last one read, when ``m`` read more)."""
    shown: tuple[dict[str, Any], ...] = ()
    """The pins listed (every page read so far)."""

    async def show(self, detail: BoardPage, more: bool = False) -> None:
        """Show ``detail``; with ``more`` its pins follow those already listed (``m``)."""
        self.detail = detail
        if not more:
            text = Table.grid()
            text.add_row(Text(str(detail.row.get("name") or "(no name)"), style="bold"))
            text.add_row(
                attribute_grid(detail.row | {"pins": f"{detail.size:,}"}, ("board", "name"))
            )
            for attribute, counts in detail.topics.items():
                shares = " · ".join(f"{value} {n}" for value, n in counts)
                text.add_row(Text.assemble((f"pin {attribute}: ", "bold"), shares))
            self.query_one("#board-text", Static).update(text)
        pins = (*self.shown, *detail.pins) if more else tuple(detail.pins)
        self.shown = pins
        self.query_one(
            "#board-pins"
        ).border_title = f"Pins on board {detail.board} ({page_count(len(pins), detail.size)})"
        extra = [k for k in (pins[0] if pins else {}) if k not in PIN_FIELDS]
        table = self.query_one(RowsTable)
        table.set_columns("Pin", "Title", *extra)
        table.set_rows(
            [
                (p["pin"], [p["pin"], p.get("title") or "", *(str(p.get(k) or "") for k in extra)])
                for p in pins
            ]
        )
        await self.query_one(PinGrid).show(
            [(str(p["pin"]), p.get("image"), str(p["pin"])) for p in pins]
        )
        if not more:
            self.focus_pins()

    @property
    def more(self) -> bool:
        """Whether the board has more pins than the page shows."""
        return self.detail is not None and len(self.shown) < self.detail.size

    def focus_pins(self) -> None:
        """Focus the first tile of the grid, or the list."""
        if self.query_one(ContentSwitcher).current == "board-list":
            self.query_one(RowsTable).focus()
        elif tiles := self.query(PinTile):
            tiles.first().focus()

    def toggle_layout(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "board-list" if switcher.current == "board-grid" else "board-grid"
        self.focus_pins()
