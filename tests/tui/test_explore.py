"""Explore screen: search by title words and id, follow pin -> board -> pin, go back; pin hits
have the pin actions of every pin table, board hits say that they are not pins; hits a page at
a time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.console import Console
from textual.widgets import ContentSwitcher, Input, Static

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
        assert results.headers == ["Pin", "Board", "Title"]
        assert [results.get_row_at(i)[1] for i in range(results.row_count)] == ["p04"]
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


def messages(app: WorkbenchApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_pin_and_board_hits(
    mini_store: Store, make_app: Callable[[Store], WorkbenchApp]
) -> None:
    """On a pin hit a, v and e do what they do in every pin table (e: no run to explain here);
    on a board hit a and v say that it is a board; Enter opens either in place."""
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        await pilot.press(*"ocean")
        await settle(pilot)
        results = screen.query_one("#explore-results", RowsTable)
        keys = [str(k.value) for k in results.rows]
        assert keys == ["pin:p04", "pin:p05", "pin:p06", "pin:p07", "board:b1"]
        await pilot.press("enter")  # to the results
        assert results.has_focus and results.cursor_pin == "p04"

        await pilot.press("a")
        assert app.query_pins == ("p04",)
        await pilot.press("e")
        assert messages(app)[-1] == "this list is not a stored run: nothing to explain"

        await pilot.press("down", "down", "down", "down")  # the board: not a pin
        assert results.cursor_key == "board:b1" and results.cursor_pin is None
        for key in ("a", "v"):
            app.clear_notifications()
            await pilot.press(key)
            await settle(pilot)
            assert messages(app) == [
                "board b1 is a board, not a pin: Enter opens it, then choose a pin"
            ]
        assert app.query_pins == ("p04",) and app.current_mode == "explore"
        app.clear_notifications()
        await pilot.press("e")
        assert messages(app) == ["this list is not a stored run: nothing to explain"]
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one(ContentSwitcher).current == "explore-board"
        assert screen.history == [("board", "b1")]

        results.focus()
        results.move_cursor(row=0)
        await pilot.press("enter")  # a pin hit opens in place, not as a pin page
        await settle(pilot)
        assert app.screen is screen and screen.history[-1] == ("pin", "p04")
        results.focus()
        await pilot.press("down", "v")  # similar images of p05, on the Visual screen
        await settle(pilot)
        assert app.current_mode == "visual" and app.visual_request == "p05"


async def test_hits_a_page_at_a_time(
    mini_store: Store, make_app: Callable[[Store], WorkbenchApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("workbench.tui.screens.explore.PAGE", 6)
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        await pilot.press("p", "right_square_bracket")  # in the box a bracket is text
        await settle(pilot)
        assert screen.query_one("#explore-search", Input).value == "p]"
        screen.query_one("#explore-search", Input).value = "p"
        await settle(pilot)
        results = screen.query_one("#explore-results", RowsTable)
        assert len(screen.hits) == 16 and results.row_count == 6
        assert str(results.border_title) == "Results (16) · 1/3 [ ]"
        results.focus()
        await pilot.press("left_square_bracket")  # no page before the first
        assert str(results.border_title) == "Results (16) · 1/3 [ ]"
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        assert str(results.border_title) == "Results (16) · 3/3 [ ]"  # nor after the last
        assert not screen.check_action("page", (1,)) and screen.check_action("page", (-1,))
        assert [str(k.value) for k in results.rows] == ["pin:p12", "pin:p13", "pin:p14", "pin:p15"]
        await pilot.press("left_square_bracket")
        assert results.row_count == 6 and results.cursor_key == "pin:p06"


async def test_pages_say_how_many_and_m_reads_more(
    mini_store: Store, make_app: Callable[[Store], WorkbenchApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pin on more boards (a board with more pins) than a page holds says "N of M · m more";
    ``m`` appends the next page. Pages here hold 1 board and 4 pins."""
    from workbench.services import explore as svc

    pin_page, board_page = svc.pin_page, svc.board_page
    monkeypatch.setattr(svc, "pin_page", lambda s, d, p, offset=0: pin_page(s, d, p, offset, 1))
    monkeypatch.setattr(svc, "board_page", lambda s, d, b, offset=0: board_page(s, d, b, offset, 4))
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#explore-search", Input).value = "p04"
        await settle(pilot)
        await pilot.press("enter", "enter")  # p04 is on boards b0 and b1
        await settle(pilot)
        boards = screen.query_one("#pin-boards", RowsTable)
        assert (
            boards.row_count == 1 and boards.border_title == "Boards with pin p04 (1 of 2 · m more)"
        )
        console = Console(width=100, color_system=None)
        with console.capture() as text:
            console.print(screen.query_one("#pin-text", Static).content)
        assert "boards  2" in text.get()
        await pilot.press("m")
        await settle(pilot)
        assert boards.row_count == 2 and boards.border_title == "Boards with pin p04 (2)"
        assert [boards.get_row_at(i)[1] for i in range(2)] == ["b0", "b1"]
        assert screen.check_action("more", ()) is False
        await pilot.press("enter")  # board b0: six pins
        await settle(pilot)
        pins = screen.query_one("#board-list", RowsTable)
        assert pins.row_count == 4 and screen.query_one("#board-pins").border_title == (
            "Pins on board b0 (4 of 6 · m more)"
        )
        await pilot.press("m")
        await settle(pilot)
        assert pins.row_count == 6
        assert screen.query_one("#board-pins").border_title == "Pins on board b0 (6)"
        assert [pins.get_row_at(i)[1] for i in range(6)] == [f"p0{i}" for i in range(6)]
