"""At 80x24 every screen stays usable: dialogs show their buttons, F1 fits, the sweep plot has
room for its lines, the top bar keeps the screen switcher, Eval's drill-down is readable and a
dataset switch clears its results, the Runs detail has room for its values."""

from __future__ import annotations

import re
from collections.abc import Callable

from textual.geometry import Region
from textual.widgets import Button, Input, Select, Static, TabbedContent

from tests.tui.conftest import add_eval_run, settle
from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.help import HelpScreen
from workbench.tui.widgets.job_bar import JobBar
from workbench.tui.widgets.rows_table import RowsTable

MakeApp = Callable[[Store], WorkbenchApp]
SIZE = (80, 24)
SCREEN = Region(0, 0, *SIZE)


def on_screen(region: Region) -> bool:
    return region.area > 0 and SCREEN.contains_region(region)


async def test_dialog_buttons_show_at_80x24(runs_store: Store, make_app: MakeApp) -> None:
    app = make_app(runs_store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for keys, dialog, buttons in (
            (("1", "l"), "#load-dialog", ("#load-ok", "#load-cancel")),
            (("7", "e"), "#export-dialog", ("#export-ok", "#export-cancel")),
        ):
            await pilot.press(*keys)
            await settle(pilot)
            box = app.screen.query_one(dialog)
            assert on_screen(box.region)
            for button in buttons:
                region = app.screen.query_one(button, Button).region
                assert on_screen(region) and box.region.contains_region(region), (button, region)
            assert "Esc" in str(box.border_subtitle)
            # It opens at its top: the first field's label shows.
            assert box.scroll_y == 0
            await pilot.press("escape")
            await settle(pilot)


async def test_help_fits_at_80_and_says_where_in_words(
    runs_store: Store, make_app: MakeApp
) -> None:
    app = make_app(runs_store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("7", "f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help-dialog")
        assert on_screen(box.region)
        assert app.screen.columns == ["Key", "Action", "Binding id"]
        wheres = {row[3] for row in app.screen.rows}
        assert {"this screen", "the app"} <= wheres
        # No class names (RowsTable, RunsScreen, WorkbenchApp) but words or border titles.
        assert not [w for w in wheres if re.search(r"[a-z][A-Z]", w)], wheres
        assert "Runs" in wheres  # the runs table's border title, "Runs (3)"


async def test_help_at_120_has_the_where_column(runs_store: Store, make_app: MakeApp) -> None:
    app = make_app(runs_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.columns[-1] == "Where"


async def test_sweep_plot_has_room_at_80x24(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#sweep-algo", Select).value = "p3alpha"
        await settle(pilot)
        screen.query_one("#sweep-negatives", Input).value = "5"
        screen.query_one("#grid-alpha", Input).value = "0.5,1"
        screen.query_one("#grid-topk", Input).value = "8,2"
        await pilot.pause()
        await pilot.press("ctrl+r")
        await settle(pilot)
        plot = screen.query_one("#sweep-plot")
        # 6 rows of plot, plus its frame (2), x ticks and the axis labels; the title is on
        # the border.
        assert plot.content_region.height >= 10, plot.content_region
        assert "against topk" in str(plot.border_title)
        trials = screen.query_one("#sweep-trials", RowsTable)
        assert trials.region.height - 3 >= 5  # 5 trials in sight (border, header)


async def test_nav_bar_keeps_the_switcher_and_cuts_the_dataset(
    mini_store: Store, mini_dir: object, make_app: MakeApp
) -> None:
    load_dataset(mini_store, [mini_dir], "samplesample_data")
    app = make_app(mini_store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.dataset = "samplesample_data"
        await settle(pilot)
        tabs = str(app.screen.query_one("#nav-tabs", Static).render())
        for name in ("1 Data", "2 Expl", "6 Sweep", "7 Runs", "9 SQL"):
            assert name in tabs, tabs
        label = app.screen.query_one("#nav-dataset", Static)
        assert on_screen(label.region)
        assert label.region.x >= len(tabs.rstrip())
        text = "".join(s.text for s in label.render_line(0)).strip()
        assert text.startswith("samplesample") and text.endswith("…"), text


async def test_eval_drill_down_readable_and_cleared_on_switch(
    mini_store: Store, mini_dir: object, make_app: MakeApp
) -> None:
    load_dataset(mini_store, [mini_dir], "other")
    for size in (SIZE, (120, 36)):
        app = make_app(mini_store)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            app.dataset = "mini"
            await settle(pilot)
            await pilot.press("8")
            await settle(pilot)
            screen = app.screen
            screen.query_one("#eval-negatives", Input).value = "5"
            await pilot.press("ctrl+r")
            await settle(pilot)
            screen.query_one(TabbedContent).active = "eval-tab-worst"
            await settle(pilot)
            worst = screen.query_one("#eval-worst", RowsTable)
            worst.focus()
            await pilot.press("enter")
            await settle(pilot)
            panes = {
                name: screen.query_one(f"#eval-{name}", RowsTable)
                for name in ("worst", "held", "top", "board-pins")
            }
            for name in ("worst", "held", "top"):
                # Every column in sight (no sideways scrolling); the pins' titles may be cut.
                pane = panes[name]
                assert pane.virtual_size.width <= pane.scrollable_content_region.width, name
            assert panes["board-pins"].region.width >= 20
            assert str(panes["board-pins"].border_title).startswith("Pins of board b")

            app.dataset = "other"
            await settle(pilot)
            assert all(p.row_count == 0 for p in panes.values())
            assert str(panes["worst"].border_title).startswith("Worst boards")
            assert str(panes["top"].border_title) == "Top 10"
            assert str(panes["board-pins"].border_title) == "Pins of the board"
            assert screen.query_one("#eval-metrics", RowsTable).border_title == "metric@k"


async def test_runs_detail_has_room_for_values(runs_store: Store, make_app: MakeApp) -> None:
    add_eval_run(runs_store, "popular", {f"b{i}": i / 10 for i in range(4)})
    app = make_app(runs_store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await settle(pilot)
        assert app.screen.query_one("#run-summary-box").region.width >= 40


async def test_job_bar_label_has_room_at_80(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        bar = app.screen.query_one(JobBar)
        bar.display = True  # as while a job runs
        app.screen.query_one("#job-label", Static).update("Indexing the images of mini")
        app.screen.query_one("#job-cancel", Static).update("esc to cancel")
        await pilot.pause()
        assert app.screen.query_one("#job-label").region.width >= 30
