"""Recommend screen: the parameter form checks ranges as you type, a run is stored and shown,
and bad query input is reported in the form."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Input, Label, Static

from tests.tui.conftest import settle
from workbench.engine.runs import list_runs
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.rows_table import RowsTable


async def test_recommend_from_explore(
    mini_store: Store, make_app: Callable[[Store], WorkbenchApp]
) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        steps = screen.query_one("#param-steps", Input)
        steps.value = "0"
        await pilot.pause()
        assert "-invalid" in screen.query_one("#hint-steps", Static).classes
        await pilot.press("ctrl+r")
        assert "steps" in str(screen.query_one("#rec-error", Label).render())
        steps.value = "5000"
        screen.query_one("#rec-pins", Input).value = "nope"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "unknown pin 'nope'" in str(screen.query_one("#rec-error", Label).render())
        assert list_runs(mini_store) == []

        # A query pin added on Explore arrives in the form (Esc first: the query box has focus).
        await pilot.press("escape", "2")
        await settle(pilot)
        app.screen.query_one("#explore-search", Input).value = "p04"
        await settle(pilot)
        await pilot.press("enter", "enter")
        await settle(pilot)
        await pilot.press("a", "3")
        await settle(pilot)
        assert screen.query_one("#rec-pins", Input).value == "p04"
        await pilot.press("ctrl+r")
        await settle(pilot)
        runs = list_runs(mini_store)
        assert len(runs) == 1 and runs[0].params["steps"] == 5000
        table = screen.query_one("#rec-table", RowsTable)
        assert table.row_count > 0 and table.has_focus
        assert f"Run {runs[0].run_id}: pixie · 5,000 steps" in str(table.border_title)


async def test_the_algorithm_list_has_no_loading_entry(
    mini_store: Store, make_app: Callable[[Store], WorkbenchApp]
) -> None:
    """Issue 12 defect 1: "loading…" was a selectable algorithm."""
    from textual.widgets import Select

    from workbench.services.recommend import algorithms
    from workbench.tui.widgets.param_form import ParamForm

    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        select = app.screen.query_one("#rec-algo", Select)
        values = [value for _prompt, value in select._options]  # what the list offers
        assert values == list(algorithms()) and select.value == "pixie"
        # the default algorithm's parameter form is shown although the value did not change
        assert len(app.screen.query_one(ParamForm).query(Input)) > 0


async def test_typing_on_recommend_goes_into_the_query(
    mini_store: Store, make_app: Callable[[Store], WorkbenchApp]
) -> None:
    """A new user presses 3 and types pin ids: the digits land in the query box (they used to
    switch screens, because the form's scroll container held the focus)."""
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        await pilot.press("5", "0", "space", "p", "0", "4")
        await settle(pilot)
        assert app.screen is screen
        assert screen.query_one("#rec-pins", Input).value == "50 p04"
        # Esc leaves the box; then digits switch screens again.
        await pilot.press("escape", "7")
        await settle(pilot)
        assert app.screen is not screen
