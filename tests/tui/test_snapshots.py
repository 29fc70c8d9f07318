"""SVG snapshots of each screen's layout at 80x24 and 120x36, on fixed data with fixed
timestamps.

Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, TextArea

from tests.tui.conftest import add_eval_run, fix_times, settle
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]
Snap = Callable[..., bool]
MakeApp = Callable[[Store], WorkbenchApp]


def then(
    *steps: str | Callable[[Pilot[None]], Awaitable[None]],
) -> Callable[[Pilot[None]], Awaitable[None]]:
    """A ``run_before`` that settles, then presses keys or runs coroutines, settling after each."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for step in steps:
            if isinstance(step, str):
                await pilot.press(*step.split())
            else:
                await step(pilot)
            await settle(pilot)
        pilot.app.clear_notifications()
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor would make the picture random
        await pilot.pause()

    return run


async def _search(pilot: Pilot[None]) -> None:
    pilot.app.screen.query_one("#explore-search", Input).value = "ocean"


async def _visual_pin(pilot: Pilot[None]) -> None:
    pilot.app.screen.query_one("#vis-pin", Input).value = "p00"


async def _visual_crop(pilot: Pilot[None]) -> None:
    pilot.app.screen.query_one("#vis-crop", Input).value = "4,4,20,20"


async def _sql_query(pilot: Pilot[None]) -> None:
    pilot.app.screen.query_one(
        "#sql-editor", TextArea
    ).text = "SELECT pin, title, topic FROM mini.pins ORDER BY pin"


async def _focus_results(pilot: Pilot[None]) -> None:
    pilot.app.screen.query_one("#run-results").focus()


async def _focus_board_pins(pilot: Pilot[None]) -> None:
    pilot.app.screen.query_one("#page-board-pins").focus()


async def _sweep_form(pilot: Pilot[None]) -> None:
    screen = pilot.app.screen
    screen.query_one("#sweep-algo", Select).value = "p3alpha"
    await pilot.pause()
    screen.query_one("#sweep-negatives", Input).value = "5"
    screen.query_one("#grid-topk", Input).value = "8,2"


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param((), id="datasets"),
        pytest.param(("l",), id="load_dialog"),
        pytest.param(("f1",), id="help"),
        pytest.param(("2",), id="explore_overview"),
        pytest.param(("3",), id="recommend"),
        pytest.param(("2", _search, "tab enter"), id="explore_pin"),
        # Each Enter opens a page in a job: settle before the next one.
        pytest.param(("2", _search, "tab enter", "enter"), id="explore_board"),
        pytest.param(("2", _search, "tab enter", "enter", "g"), id="explore_board_list"),
        pytest.param(("8",), id="eval"),
        pytest.param(("9",), id="sql"),
        pytest.param(("9", _sql_query, "ctrl+r"), id="sql_result"),
    ],
)
@pytest.mark.parametrize("size", SIZES)
def test_screen_layout(
    steps: tuple[object, ...],
    size: tuple[int, int],
    mini_store: Store,
    make_app: MakeApp,
    snap_compare: Snap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("workbench.engine.sql.perf_counter", lambda: 0.0)  # "· 0 ms"
    assert snap_compare(make_app(mini_store), terminal_size=size, run_before=then(*steps))


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(("7",), id="runs"),
        pytest.param(("7", "e"), id="export_dialog"),
        pytest.param(("7 down space up space m",), id="compare"),
        # The query image with a crop box, before indexing (layout only: no computed scores).
        pytest.param(("4", _visual_pin, _visual_crop), id="visual"),
        # Walking the graph from a run's results: the pin page, and the pin page's pin page.
        pytest.param(("7", _focus_results, "enter"), id="pin_page"),
        pytest.param(
            ("7", _focus_results, "enter", _focus_board_pins, "down enter"), id="pin_page_2"
        ),
    ],
)
@pytest.mark.parametrize("size", SIZES)
def test_runs_layout(
    steps: tuple[object, ...],
    size: tuple[int, int],
    runs_store: Store,
    make_app: MakeApp,
    snap_compare: Snap,
) -> None:
    assert snap_compare(make_app(runs_store), terminal_size=size, run_before=then(*steps))


@pytest.mark.parametrize("size", SIZES)
def test_sweep_layout(
    size: tuple[int, int],
    mini_store: Store,
    make_app: MakeApp,
    snap_compare: Snap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("workbench.engine.sweep.new_sweep_id", lambda: "5eed0001")
    steps = then("6", _sweep_form, "ctrl+r")
    assert snap_compare(make_app(mini_store), terminal_size=size, run_before=steps)


async def _compare_runs_3_4(pilot: Pilot[None]) -> None:
    pilot.app.screen.query_one("#compare-runs", Input).value = "3 4"


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(("5", _compare_runs_3_4, "enter"), id="tests"),
        pytest.param(("5", _compare_runs_3_4, "enter", "p"), id="plot"),
    ],
)
@pytest.mark.parametrize("size", SIZES)
def test_compare_evaluations_layout(
    steps: tuple[object, ...],
    size: tuple[int, int],
    runs_store: Store,
    make_app: MakeApp,
    snap_compare: Snap,
) -> None:
    """Two evaluations compared: the paired tests per metric, and (p) the per-board differences."""
    add_eval_run(runs_store, "popular", {f"b{i}": i / 10 for i in range(8)})
    add_eval_run(runs_store, "itemknn", {f"b{i}": 0.9 - i / 10 for i in range(7)})
    fix_times(runs_store)
    assert snap_compare(make_app(runs_store), terminal_size=size, run_before=then(*steps))
