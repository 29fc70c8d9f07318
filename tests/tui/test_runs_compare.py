"""Runs and Compare screens: rename, export (with the toast naming the file), delete, compare
marked runs, bad input in the compare form, explain from the aligned table, the runs field kept
per dataset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Label

from tests.tui.conftest import add_eval_run, settle, wait_until
from workbench.engine.ingest import load_dataset
from workbench.engine.runs import get_run, list_runs
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.export_dialog import ExportDialog
from workbench.tui.widgets.board_diff_plot import BoardDiffPlot
from workbench.tui.widgets.explain_panel import ExplainPanel
from workbench.tui.widgets.rows_table import RowsTable

MakeApp = Callable[[Store], WorkbenchApp]


async def test_rename_export_delete(runs_store: Store, make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(runs_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        table = app.screen.query_one("#runs-table", RowsTable)
        assert table.cursor_key == "2"  # newest first
        await pilot.press("n", "ctrl+a", *"baseline", "enter")
        await settle(pilot)
        assert get_run(runs_store, 2).name == "baseline"

        await pilot.press("e")
        assert isinstance(app.screen, ExportDialog)
        app.screen.query_one("#export-path", Input).value = f"{tmp_path}/out/"
        await pilot.press("enter")
        await settle(pilot)
        written = tmp_path / "out" / "run-2-itemknn.csv"
        assert written.exists() and written.read_text().startswith("query,rank,pin,score")
        assert any(str(written) in n.message for n in app._notifications)

        await pilot.press("e")  # again: the file exists, the dialog says so and stays open
        app.screen.query_one("#export-path", Input).value = f"{tmp_path}/out/"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        assert "exists" in str(app.screen.query_one("#export-error", Label).render())
        await pilot.press("escape")

        await pilot.press("d", "y")
        await wait_until(pilot, lambda: [r.run_id for r in list_runs(runs_store)] == [1])
        assert table.row_count == 1


async def test_compare_marked_runs(runs_store: Store, make_app: MakeApp) -> None:
    app = make_app(runs_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        await pilot.press("down", "space", "up", "space", "m")  # run 1 is the baseline
        await settle(pilot)
        assert app.current_mode == "compare"
        screen = app.screen
        assert screen.query_one("#compare-runs", Input).value == "1 2"
        summary = screen.query_one("#compare-summary", RowsTable)
        assert summary.row_count == 1
        assert [c.plain for c in summary.get_row_at(0)[3:4]] == ["3.0/10"]
        aligned = screen.query_one("#compare-table", RowsTable)
        rows = {aligned.get_row_at(i)[1]: aligned.get_row_at(i) for i in range(aligned.row_count)}
        assert rows["p02"][4].plain == "1 ▲1"  # rank 2 in run 1, rank 1 in run 2
        assert rows["p03"][4].plain == "— out"
        assert rows["p06"][4].plain == "3 new"

        assert aligned.has_focus and aligned.cursor_pin == "p01"
        await pilot.press("e")  # why p01 is where it is in the baseline run
        await settle(pilot)
        panel = screen.query_one(ExplainPanel)
        assert (panel.run_id, panel.pin) == (1, "p01")


async def test_compare_runs_belong_to_a_dataset(
    runs_store: Store, mini_dir: Path, make_app: MakeApp
) -> None:
    load_dataset(runs_store, [mini_dir], "other")
    app = make_app(runs_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.dataset = "mini"
        await pilot.press("5")
        await settle(pilot)
        screen = app.screen
        box = screen.query_one("#compare-runs", Input)
        box.value = "1 2"
        await pilot.press("enter")
        await settle(pilot)
        aligned = screen.query_one("#compare-table", RowsTable)
        assert aligned.row_count > 0

        app.dataset = "other"  # nothing of mini's comparison comes along
        await settle(pilot)
        assert box.value == "" and aligned.row_count == 0 and screen.result is None
        box.value = "7 8"
        await settle(pilot)
        app.dataset = "mini"
        await settle(pilot)
        assert box.value == "1 2"
        app.dataset = "other"
        await settle(pilot)
        assert box.value == "7 8"


async def test_compare_bad_input(runs_store: Store, make_app: MakeApp) -> None:
    app = make_app(runs_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press(*"1", "enter")
        await settle(pilot)
        error = app.screen.query_one("#compare-error", Label)
        assert "two or more run ids" in str(error.render())
        app.screen.query_one("#compare-runs", Input).value = "1 99"
        await pilot.press("enter")
        await settle(pilot)
        assert "unknown run 99" in str(error.render())
        assert app.is_running


async def test_runs_filter_by_parameter_and_show_a_dash_without_steps(
    runs_store: Store, make_app: MakeApp
) -> None:
    from workbench.engine.runs import save_run

    fingerprint = runs_store.dataset("mini").fingerprint
    save_run(runs_store, dataset="mini", kind="recommend", algorithm="rp3beta",
             params={"alpha": 0.5}, seed=0, fingerprint=fingerprint)  # fmt: skip
    app = make_app(runs_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        table = app.screen.query_one("#runs-table", RowsTable)
        labels = [str(c.label) for c in table.ordered_columns]
        run_at, steps_at = labels.index("Run"), labels.index("Steps")
        steps = {str(table.get_row_at(i)[run_at]): str(table.get_row_at(i)[steps_at])
                 for i in range(table.row_count)}  # fmt: skip
        assert steps == {"3": "–", "2": "1,000", "1": "1,000"}
        app.screen.query_one("#runs-text", Input).value = "alpha=0.5"
        await settle(pilot)
        assert table.row_count == 1 and table.cursor_key == "3"


async def test_compare_evaluations_plots_per_board_differences(
    runs_store: Store, make_app: MakeApp
) -> None:
    base = {f"b{i}": i / 10 for i in range(8)}
    a = add_eval_run(runs_store, "popular", base)
    b = add_eval_run(runs_store, "itemknn", {f"b{i}": 0.9 - i / 10 for i in range(7)})  # no b7
    app = make_app(runs_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        screen = app.screen
        plot = screen.query_one("#compare-plot", BoardDiffPlot)
        tests = screen.query_one("#compare-table", RowsTable)
        screen.query_one("#compare-runs", Input).value = f"{a} {b}"
        await pilot.press("enter")
        await settle(pilot)
        assert tests.display and not plot.display and tests.row_count == 2
        assert screen.check_action("toggle_plot", ()) is True
        await pilot.press("p")
        await settle(pilot)
        assert plot.display and not tests.display and plot.has_focus
        assert plot.points == {b: 7}  # one point per board both runs scored
        (diffs,) = screen.diffs
        assert diffs.metric == "ndcg@10" and list(diffs.differences) == sorted(diffs.differences)
        paired = dict(zip(diffs.boards, diffs.differences, strict=True))
        assert paired["b2"] == pytest.approx(0.5) and "b7" not in paired
        assert plot.size.height >= 7 and plot.size.width >= 70
        await pilot.press("p")
        await settle(pilot)
        assert tests.display and not plot.display

        box = screen.query_one("#compare-runs", Input)
        box.value = "1 2"  # rankings: no plot to show
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert screen.result is not None and screen.result.kind == "rankings"
        assert screen.diffs == [] and not plot.display and tests.display
        assert screen.check_action("toggle_plot", ()) is False
        await pilot.press("p")
        await settle(pilot)
        assert not plot.display and tests.display
