"""Runs screen: the list shows each run's main metric, query and changed parameters, sorts by
any column, repeats a run with its stored settings and copies its command line."""

from __future__ import annotations

from collections.abc import Callable

from tests.tui.conftest import settle
from workbench.engine.runs import list_runs, run_results
from workbench.engine.store import Store
from workbench.services.recommend import RecommendRequest, recommend
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.runs import COLUMNS, sort_key
from workbench.tui.widgets.rows_table import RowsTable

MakeApp = Callable[[Store], WorkbenchApp]


def test_sort_keys_read_numbers_as_numbers() -> None:
    cells = ["ndcg@10 0.30", "ndcg@10 0.041", "", "100,000", "2.5s", "p00 p01"]
    assert sorted(cells, key=sort_key) == [
        "ndcg@10 0.041", "ndcg@10 0.30", "2.5s", "100,000", "p00 p01", ""
    ]  # fmt: skip


async def test_columns_sort_rerun_and_copy(mini_store: Store, make_app: MakeApp) -> None:
    for steps, pin in (("3000", "p00"), ("1000", "p05")):
        recommend(mini_store, RecommendRequest("mini", pins=(pin,), params={"steps": steps}, k=4))
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        table = app.screen.query_one("#runs-table", RowsTable)
        assert table.headers == list(COLUMNS)
        newest = table.get_row_at(0)
        query, params = newest[1 + COLUMNS.index("Query")], newest[1 + COLUMNS.index("Parameters")]
        assert (str(query), str(params)) == ("p05", "steps=1000")

        # s sorts by the next column (first: Run, ascending); S reverses.
        table.focus()
        await pilot.press("s")
        assert [str(table.get_row_at(i)[1]) for i in range(2)] == ["1", "2"]
        assert "by Run ▲" in str(table.border_title)
        await pilot.press("S")
        assert [str(table.get_row_at(i)[1]) for i in range(2)] == ["2", "1"]

        # y copies the command that repeats the highlighted run (2: pin p05, 1,000 steps).
        table.move_cursor(row=0)
        await pilot.press("y")
        assert app.clipboard.startswith("workbench recommend --dataset mini --algo pixie --pin p05")
        assert "--param steps=1000" in app.clipboard and "--top 4" in app.clipboard

        # R runs it again: a third run with the same ranking, highlighted.
        await pilot.press("R")
        await settle(pilot)
        runs = list_runs(mini_store)
        assert len(runs) == 3
        third = max(r.run_id for r in runs)
        assert table.cursor_key == str(third)
        a, b = run_results(mini_store, 2), run_results(mini_store, third)
        assert a["pin"].to_list() == b["pin"].to_list()
