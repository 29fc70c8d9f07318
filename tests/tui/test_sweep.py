"""Sweep screen: the grid is checked as it is typed; a 2-setting sweep stores 2 runs and lists
them; Enter opens a trial on Runs; Esc stops a sweep, keeping its finished trials, and Run goes
on with the rest."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Input, Select, Static

from tests.tui.conftest import poll_until, settle
from workbench.engine import sweep
from workbench.engine.runs import list_runs
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.sweep import SweepScreen
from workbench.tui.widgets.rows_table import RowsTable

MakeApp = Callable[[Store], WorkbenchApp]


async def fill_form(pilot: Any, alpha: str) -> None:
    """A quick p3alpha sweep of ``alpha`` on the mini dataset (5 negatives per board)."""
    screen = pilot.app.screen
    screen.query_one("#sweep-algo", Select).value = "p3alpha"
    await settle(pilot)
    screen.query_one("#sweep-negatives", Input).value = "5"
    screen.query_one("#grid-alpha", Input).value = alpha
    await pilot.pause()


async def test_sweep_a_grid(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        await fill_form(pilot, "0.5,x")
        hint = screen.query_one("#grid-hint-alpha", Static)
        assert "alpha='x'" in str(hint.render()) and "-invalid" in hint.classes
        screen.query_one("#grid-alpha", Input).value = "0.5,1"
        await pilot.pause()
        assert "-invalid" not in hint.classes
        assert str(screen.query_one("#sweep-count", Static).render()) == "2 settings"

        await pilot.press("ctrl+r")
        await settle(pilot)
        runs = list_runs(mini_store, kind="eval")
        assert sorted(r.params["alpha"] for r in runs) == [0.5, 1.0]
        assert {r.info["sweep"]["id"] for r in runs} == {screen.sweep_id}
        table = screen.query_one("#sweep-trials", RowsTable)
        assert table.row_count == 2 and table.has_focus
        assert table.headers == ["#", "Run", "alpha", "ndcg@10"]
        assert str(table.border_title) == f"Sweep {screen.sweep_id}: 2 of 2 trials"
        assert "best ndcg@10" in str(screen.query_one("#sweep-status", Static).render())

        best = screen.best
        assert best is not None and table.cursor_key == str(best.run_id)
        await pilot.press("enter")  # the best trial, on the Runs screen
        await settle(pilot)
        assert app.current_mode == "runs"
        assert app.screen.query_one("#runs-table", RowsTable).cursor_key == str(best.run_id)


async def test_cancel_keeps_finished_trials(
    mini_store: Store, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_trial = sweep.run_repeats
    blocking = {"on": True}

    def second_trial_waits(data: Any, algo: str, params: Any, reporter: Any) -> Any:
        if blocking["on"] and params["alpha"] == "1":
            for _ in range(3000):  # reports progress until the TUI stops it (a minute at most)
                reporter.progress(0, 1)
                time.sleep(0.02)
            raise AssertionError("the sweep was not cancelled")
        return real_trial(data, algo, params, reporter)

    monkeypatch.setattr("workbench.engine.sweep.run_repeats", second_trial_waits)
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        screen = app.screen
        await fill_form(pilot, "0.5,1,1.5")
        await pilot.press("ctrl+r")
        table = screen.query_one("#sweep-trials", RowsTable)
        await poll_until(pilot, lambda: table.row_count == 1)  # shown while the sweep runs
        await pilot.press("escape")
        await settle(pilot)
        assert any("cancelled" in n.message for n in app._notifications)
        assert table.row_count == 1 and len(list_runs(mini_store, kind="eval")) == 1
        status = str(screen.query_one("#sweep-status", Static).render())
        assert "finished trials are kept; ^r runs the rest" in status

        blocking["on"] = False
        await pilot.press("ctrl+r")  # the same form: the sweep goes on where it stopped
        await settle(pilot)
        runs = list_runs(mini_store, kind="eval")
        assert len(runs) == 3 and len({r.info["sweep"]["id"] for r in runs}) == 1
        assert table.row_count == 3
