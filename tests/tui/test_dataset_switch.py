"""State belongs to a dataset: a switch leaves nothing of the old dataset's results, runs or
explanations on Recommend, Visual, Compare and Runs; and Esc closes the explain panel (but still
leaves a text box first)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input, Static

from tests.tui.conftest import settle
from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.explain_panel import ExplainPanel
from workbench.tui.widgets.ranked_pins import RankedPins
from workbench.tui.widgets.rows_table import RowsTable

MakeApp = Callable[[Store], WorkbenchApp]


def panels(app: WorkbenchApp) -> int:
    return len(app.screen.query(ExplainPanel))


async def test_recommend_results_and_explanation_stay_with_their_dataset(
    mini_store: Store, mini_dir: Path, make_app: MakeApp
) -> None:
    load_dataset(mini_store, [mini_dir], "other")
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.dataset = "mini"
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#rec-pins", Input).value = "p00"
        await pilot.press("ctrl+r")
        await settle(pilot)
        table = screen.query_one("#rec-table", RowsTable)
        assert table.row_count > 0 and table.has_focus
        await pilot.press("e")
        await settle(pilot)
        assert panels(app) == 1

        app.dataset = "other"
        await settle(pilot)
        assert panels(app) == 0
        assert table.row_count == 0 and table.run_id is None
        assert str(table.border_title) == "Results"
        table.focus()
        await pilot.press("a")  # no old pin to add to the other dataset's query
        await settle(pilot)
        assert app.query_pins == ()
        assert screen.query_one("#rec-pins", Input).value == ""


async def test_esc_closes_the_explanation_on_recommend(
    mini_store: Store, make_app: MakeApp
) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        pins = screen.query_one("#rec-pins", Input)
        pins.value = "p00"
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert panels(app) == 1
        await pilot.press("escape")
        await settle(pilot)
        assert panels(app) == 0 and app.screen is screen

        # In a text box Esc leaves the box first; the next Esc closes the panel.
        await pilot.press("e")
        await settle(pilot)
        assert panels(app) == 1
        pins.focus()
        await pilot.press("escape")
        await settle(pilot)
        assert panels(app) == 1 and not isinstance(screen.focused, Input)
        await pilot.press("escape")
        await settle(pilot)
        assert panels(app) == 0


async def test_compare_explanation_closes_on_esc_and_on_a_switch(
    runs_store: Store, mini_dir: Path, make_app: MakeApp
) -> None:
    load_dataset(runs_store, [mini_dir], "other")
    app = make_app(runs_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.dataset = "mini"
        await pilot.press("5")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#compare-runs", Input).value = "1 2"
        await pilot.press("enter")
        await settle(pilot)
        aligned = screen.query_one("#compare-table", RowsTable)
        assert aligned.row_count > 0 and aligned.has_focus
        await pilot.press("e")
        await settle(pilot)
        assert panels(app) == 1
        await pilot.press("escape")
        await settle(pilot)
        assert panels(app) == 0
        await pilot.press("e")
        await settle(pilot)
        assert panels(app) == 1

        app.dataset = "other"
        await settle(pilot)
        assert panels(app) == 0
        assert aligned.row_count == 0 and screen.result is None  # type: ignore[attr-defined]


async def test_visual_pin_box_and_results_belong_to_a_dataset(
    runs_store: Store, mini_dir: Path, make_app: MakeApp
) -> None:
    load_dataset(runs_store, [mini_dir], "other")
    app = make_app(runs_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.dataset = "mini"
        await pilot.press("4")
        await settle(pilot)
        screen = app.screen
        box = screen.query_one("#vis-pin", Input)
        box.value = "p03"
        await settle(pilot)
        # A ranking on screen from run 1 (a stored mini run), as a search would show it.
        ranking = screen.query_one(RankedPins)
        ranking.show([(1, "p01", 0.9), (2, "p02", 0.8)], [], "Run 1: visual", run_id=1)
        await settle(pilot)
        assert ranking.table.has_focus
        await pilot.press("e")
        await settle(pilot)
        assert panels(app) == 1
        await pilot.press("escape")
        await settle(pilot)
        assert panels(app) == 0
        await pilot.press("e")
        await settle(pilot)
        assert panels(app) == 1

        app.dataset = "other"
        await settle(pilot)
        assert panels(app) == 0
        assert box.value == ""
        assert ranking.table.row_count == 0 and ranking.table.run_id is None
        box.value = "p07"
        await settle(pilot)
        app.dataset = "mini"
        await settle(pilot)
        assert box.value == "p03"
        app.dataset = "other"
        await settle(pilot)
        assert box.value == "p07"


async def test_runs_detail_and_sort_follow_the_dataset(
    runs_store: Store, mini_dir: Path, make_app: MakeApp
) -> None:
    load_dataset(runs_store, [mini_dir], "other")
    app = make_app(runs_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.dataset = "mini"
        await pilot.press("7")
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#runs-table", RowsTable)
        results = screen.query_one("#run-results", RowsTable)
        assert table.row_count == 2 and results.row_count > 0
        assert "Top results of run" in str(results.border_title)
        await pilot.press("s")  # sort by Run, ascending
        await settle(pilot)
        assert "by Run ▲" in str(table.border_title)
        results.focus()
        await pilot.press("e")
        await settle(pilot)
        assert panels(app) == 1

        app.dataset = "other"
        await settle(pilot)
        assert panels(app) == 0
        assert table.row_count == 0 and str(table.border_title) == "Runs (0)"
        assert results.row_count == 0 and "run" not in str(results.border_title)
        assert "No runs match" in str(screen.query_one("#run-summary", Static).render())

        app.dataset = "mini"  # mini's runs, sorted as they were
        await settle(pilot)
        assert table.row_count == 2 and "by Run ▲" in str(table.border_title)
        assert "Top results of run" in str(results.border_title)
