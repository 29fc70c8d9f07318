"""Explore's board page: name, attributes and the topics of its pins; its pins as a grid or list."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Static

from workbench.services.explore import BoardPage
from workbench.tui.widgets.pin_grid import PinGrid
from workbench.tui.widgets.pin_tile import PinTile
from workbench.tui.widgets.pin_view import PIN_FIELDS, attribute_grid
from workbench.tui.widgets.rows_table import RowsTable


class BoardView(Vertical):
    """Top: what the board is; below: its pins as image tiles or as a table (``toggle_layout``)."""

    def compose(self) -> ComposeResult:
        yield Static(id="board-text")
        with ContentSwitcher(initial="board-grid", id="board-pins", classes="panel"):
            yield PinGrid(id="board-grid")
            # Explore opens a board's pins in place (its own history), not as a pin page.
            yield RowsTable(id="board-list", open_pins=False)

    async def show(self, detail: BoardPage) -> None:
        text = Table.grid()
        text.add_row(Text(str(detail.row.get("name") or "(no name)"), style="bold"))
        text.add_row(attribute_grid(detail.row | {"pins": len(detail.pins)}, ("board", "name")))
        for attribute, counts in detail.topics.items():
            shares = " · ".join(f"{value} {n}" for value, n in counts)
            text.add_row(Text.assemble((f"pin {attribute}: ", "bold"), shares))
        self.query_one("#board-text", Static).update(text)
        self.query_one("#board-pins").border_title = f"Pins on board {detail.board}"
        extra = [k for k in (detail.pins[0] if detail.pins else {}) if k not in PIN_FIELDS]
        table = self.query_one(RowsTable)
        table.set_columns("Pin", "Title", *extra)
        table.set_rows(
            [
                (p["pin"], [p["pin"], p.get("title") or "", *(str(p.get(k) or "") for k in extra)])
                for p in detail.pins
            ]
        )
        await self.query_one(PinGrid).show(
            [(str(p["pin"]), p.get("image"), str(p["pin"])) for p in detail.pins]
        )
        self.focus_pins()

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
