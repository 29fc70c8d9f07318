"""Explore screen: search by title words and id, follow pin -> board -> pin, go back."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import ContentSwitcher, Input

from tests.tui.conftest import settle
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.pin_tile import PinTile
from workbench.tui.widgets.rows_table import RowsTable


async def test_search_and_follow_links(
    mini_store: Store, make_app: Callable[[Store], WorkbenchApp]
) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert screen.query_one(ContentSwitcher).current == "explore-overview"
        await pilot.press(*"red", "space", *"ocean")  # the search box has focus
        await settle(pilot)
        results = screen.query_one("#explore-results", RowsTable)
        assert [results.get_row_at(i)[2] for i in range(results.row_count)] == ["p04"]
        await pilot.press("enter", "enter")  # to the results, then open the pin
        await settle(pilot)
        assert screen.query_one(ContentSwitcher).current == "explore-pin"
        boards = screen.query_one("#pin-boards", RowsTable)
        assert boards.has_focus and boards.cursor_key == "b0"
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one(ContentSwitcher).current == "explore-board"
        tiles = list(screen.query(PinTile))
        assert [t.pin for t in tiles] == ["p00", "p01", "p02", "p03", "p04", "p05"]
        assert tiles[0].has_focus
        await pilot.press("right", "enter")
        await settle(pilot)
        assert screen.history == [("pin", "p04"), ("board", "b0"), ("pin", "p01")]
        await pilot.press("backspace")
        await settle(pilot)
        assert screen.history[-1] == ("board", "b0")
        # An exact id finds the board.
        screen.query_one("#explore-search", Input).value = "b3"
        await settle(pilot)
        assert results.cursor_key == "board:b3"
