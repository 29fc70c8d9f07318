"""Shared widgets' pure parts: degree histograms in doubling bins with whole-number ticks, number
cells of tables, the metric@k table of the Eval screen, the nav bar fitting 80 columns."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from rich.text import Text

from tests.tui.conftest import settle
from workbench.engine.store import Store
from workbench.tui.app import SCREENS, WorkbenchApp
from workbench.tui.screens.eval import metric_table
from workbench.tui.widgets.degree_histogram import histogram, integer_ticks, log_bin
from workbench.tui.widgets.nav_bar import NavBar
from workbench.tui.widgets.rows_table import number_cell


def test_degrees_fall_in_doubling_bins() -> None:
    assert [log_bin(d) for d in (0, 1, 2, 3, 4, 7, 8, 1000)] == [0, 1, 2, 2, 3, 3, 4, 10]
    labels, counts = histogram([1, 1, 2, 3, 5, 9, 9, 9, 300])
    assert labels == ["1", "2-3", "4-7", "8-15", "16-31", "32-63", "64-127", "128-255", "256-511"]
    assert counts == [2, 2, 1, 3, 0, 0, 0, 0, 1]
    assert sum(counts) == 9 and all(isinstance(c, int) for c in counts)


def test_y_ticks_are_whole_numbers() -> None:
    for top in (1, 3, 7, 10, 491, 2997, 30950):
        ticks = integer_ticks(top)
        assert ticks[0] == 0 and ticks[-1] >= top and len(ticks) <= 6
        assert all(isinstance(t, int) for t in ticks)
        assert len({b - a for a, b in itertools.pairwise(ticks)}) == 1


def test_number_cells() -> None:
    cell = number_cell(750020)
    assert isinstance(cell, Text) and cell.plain == "750,020" and cell.justify == "right"
    assert number_cell(293780.25).plain == "293,780.2"
    assert number_cell(0.123456).plain == "0.1235"
    assert number_cell("p01") == "p01" and number_cell(True) is True


def test_metric_table_rows_by_k() -> None:
    ks, rows, plain = metric_table(
        {"hr@1": 0.5, "hr@10": 0.9, "ndcg@10": 0.7, "coverage": 0.25},
        {"hr@1": 0.01, "hr@10": None},
    )
    assert ks == [1, 10]
    assert rows == [("hr", ["0.5000 ±0.010", "0.9000"]), ("ndcg", ["—", "0.7000"])]
    assert plain == [("coverage", "0.2500")]


async def test_nav_bar_fits_80_columns(
    mini_store: Store, make_app: Callable[[Store], WorkbenchApp]
) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        nav = app.screen.query_one(NavBar)
        labels, _gap = nav.labels(72)
        assert [mode for mode, _ in labels] == [mode for mode, _, _ in SCREENS]
        assert all(
            label.split()[0] == key for (_, label), (_, _, key) in zip(labels, SCREENS, strict=True)
        )
        text = str(app.screen.query_one("#nav-tabs").render())
        for _mode, _title, key in SCREENS:
            assert f"{key} " in text
