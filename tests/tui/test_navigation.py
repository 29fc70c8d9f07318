"""App-level behaviour every screen gets: screen keys that work inside text boxes, ``/`` to the
search box, the theme toast, the TUI's error hints, state kept per dataset and the dataset
remembered across restarts, the palette listing every screen's actions, and walking the graph
from any table of pins (pin page, add to query, similar images, explain, Backspace back)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Input

from tests.tui.conftest import settle, wait_until
from workbench.engine.errors import OutputExistsError
from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store
from workbench.tui.app import TUI_HINTS, WorkbenchApp, error_message
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.jobs import Job
from workbench.tui.screens.pin_page import PinPageScreen
from workbench.tui.widgets.explain_panel import ExplainPanel
from workbench.tui.widgets.rows_table import RowsTable, format_score, format_scores

MakeApp = Callable[[Store], WorkbenchApp]


async def test_screen_keys_inside_a_text_box(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert app.current_mode == "explore"
        app.screen.query_one("#explore-results", RowsTable).focus()
        await pilot.press("slash", "o", "c", "3")
        box = app.screen.query_one("#explore-search", Input)
        assert box.has_focus and box.value == "oc3"  # a digit in a text box is text
        await pilot.press("slash")  # already there: not typed, the text is selected
        assert box.value == "oc3"
        await pilot.press("alt+3")
        await settle(pilot)
        assert app.current_mode == "recommend"
        assert app.screen.query_one("#rec-pins", Input).has_focus  # arrived ready to type
        await pilot.press("escape", "backspace")  # out of the box; back to where we came from
        await settle(pilot)
        assert app.current_mode == "explore"

        box.focus()
        await pilot.press("ctrl+pagedown")  # from inside the text box: the next screen
        await settle(pilot)
        assert app.current_mode == "recommend"
        await pilot.press("ctrl+pageup")
        await settle(pilot)
        assert app.current_mode == "explore"
        box.focus()
        await pilot.press("escape", "7")  # Esc leaves the box; then a digit is a screen key
        await settle(pilot)
        assert app.current_mode == "runs" and box.value == "oc3"


async def test_ctrl_t_says_which_theme(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        before = app.theme
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme != before
        assert any(n.title == "Theme" and app.theme in n.message for n in app._notifications)
        saved = json.loads(Path(os.environ["WORKBENCH_STATE"]).read_text())
        assert saved["theme"] == app.theme


def test_errors_get_the_tui_hint(tmp_path: Path) -> None:
    line = error_message(OutputExistsError(f"the output file {tmp_path}/x.csv exists"))
    assert line.endswith("; " + TUI_HINTS["overwrite"])
    assert "--force" not in line


async def test_inline_form_errors_get_the_tui_hint(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    seen: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)

        def exists(_ctx: object) -> None:
            raise OutputExistsError("the output file x.csv exists")

        job = Job("test", "Writing", exists, on_error=lambda e: seen.append(str(e)))
        app.screen.run_job(job)  # type: ignore[attr-defined]
        await settle(pilot)
    assert seen == ["the output file x.csv exists; tick Overwrite"]


async def test_state_belongs_to_a_dataset(
    mini_store: Store, mini_dir: Path, make_app: MakeApp
) -> None:
    load_dataset(mini_store, [mini_dir], "other")
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.dataset = "mini"
        app.add_query_pin("p01")
        app.remember("runs.filter", "alpha=0.5")
        app.dataset = "other"
        await settle(pilot)
        assert app.query_pins == () and app.recall("runs.filter") is None
        app.add_query_pin("p02")
        app.dataset = "mini"
        await settle(pilot)
        assert app.query_pins == ("p01",) and app.recall("runs.filter") == "alpha=0.5"
        app.dataset = "other"
        await settle(pilot)

    # The dataset in use is remembered for the next start on this store.
    again = make_app(mini_store)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert again.dataset == "other"


async def test_palette_lists_every_screens_actions(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        provider = WorkbenchCommands(app.screen)
        titles = {title for title, _help, _run in provider._commands()}
        for expected in ("SQL: Run query", "Eval: Evaluate", "Runs: Export…", "Explore: Search",
                         "Recommend: Run", "Go to Sweep", "Use dataset mini"):  # fmt: skip
            assert expected in titles, expected
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"SQL: Run query")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "sql"


def test_scores_and_counts_are_readable() -> None:
    assert format_score(293780.0) == "293,780"
    assert format_score(293780.5) == "293,780.5"
    assert format_score(0.0123456) == "0.0123"
    assert format_score(1.2e-5) == "1.200e-05"
    assert format_score(None) == "—"


def test_a_column_of_scores_has_one_format() -> None:
    # Pixie's boosted scores: whole numbers but for float error stay whole numbers.
    assert format_scores([755.0, 591.0, 514.9999999999999, 487.0]) == ["755", "591", "515", "487"]
    assert format_scores([751.0, 725.5, 3.25]) == ["751.0000", "725.5000", "3.2500"]
    assert format_scores([1234.56, 2.0, None]) == ["1,234.6", "2.0", "—"]
    assert format_scores([0.5, 0.0, 0.25]) == ["0.5000", "0", "0.2500"]
    assert format_scores([1e-5, 2e-6]) == ["1.000e-05", "2.000e-06"]
    assert format_scores([]) == []


async def test_walk_the_graph_from_a_run(runs_store: Store, make_app: MakeApp) -> None:
    app = make_app(runs_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        results = app.screen.query_one("#run-results", RowsTable)
        results.focus()
        await pilot.pause()
        pin = results.cursor_pin
        assert pin is not None

        await pilot.press("a")
        assert app.query_pins == (pin,)

        await pilot.press("enter")  # the pin page, on top of Runs
        await settle(pilot)
        page = app.screen
        assert isinstance(page, PinPageScreen) and page.pin == pin
        assert app.breadcrumb()[-2:] == ["Runs", f"pin {pin}"]
        boards = page.query_one("#page-boards", RowsTable)
        assert boards.row_count >= 1
        board_pins = page.query_one("#page-board-pins", RowsTable)
        await wait_until(pilot, lambda: board_pins.row_count > 0)
        board_pins.focus()
        await pilot.press("down", "enter")  # on to another pin of that board
        await settle(pilot)
        assert isinstance(app.screen, PinPageScreen) and app.screen is not page
        second = app.screen.pin
        assert app.breadcrumb()[-3:] == ["Runs", f"pin {pin}", f"pin {second}"]
        await pilot.press("backspace")
        await settle(pilot)
        assert app.screen is page
        await pilot.press("backspace")
        await settle(pilot)
        assert app.current_mode == "runs" and not isinstance(app.screen, PinPageScreen)

        results.focus()
        await pilot.press("e")  # why this pin: a panel beside the list
        await settle(pilot)
        panel = app.screen.query_one(ExplainPanel)
        assert (panel.run_id, panel.pin) == (2, pin)
        await pilot.press("e")  # the same pin again closes it
        await settle(pilot)
        assert not app.screen.query(ExplainPanel)

        await pilot.press("v")  # similar images: the Visual screen with the pin
        await settle(pilot)
        assert app.current_mode == "visual" and app.visual_request == pin


async def test_explain_a_real_walk(mini_store: Store, make_app: MakeApp) -> None:
    """``e`` on a Pixie run's result: the panel fills from the explain service."""
    from workbench.services.recommend import RecommendRequest, recommend

    request = RecommendRequest("mini", pins=("p00", "p05"), params={"steps": "2000"}, k=5)
    run = recommend(mini_store, request)
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        results = app.screen.query_one("#run-results", RowsTable)
        results.focus()
        await pilot.pause()
        pin = results.cursor_pin
        await pilot.press("e")
        await settle(pilot)
        panel = app.screen.query_one(ExplainPanel)
        assert panel.explanation is not None, panel.query_one("#explain-summary").render()
        assert (panel.run_id, panel.explanation["pin"]) == (run.run_id, pin)
        assert panel.query_one("#explain-query-pins", RowsTable).row_count >= 1
        assert panel.query_one("#explain-boards", RowsTable).row_count >= 1
        shares = [q["share"] for q in panel.explanation["by_query_pin"]]
        assert abs(sum(shares) - 1) < 1e-6


async def test_pin_page_reads_more_rows_on_m(
    runs_store: Store, make_app: MakeApp, monkeypatch: object
) -> None:
    """Pages of one row: ``m`` on a list reads the next page after the rows shown."""
    from workbench.services import explore
    from workbench.tui.screens import pin_page

    monkeypatch.setattr(  # type: ignore[attr-defined]
        pin_page, "read_pin", lambda s, d, p, o=0: explore.pin_page(s, d, p, o, 1)
    )
    monkeypatch.setattr(  # type: ignore[attr-defined]
        pin_page, "read_board", lambda s, d, b, o=0: explore.board_page(s, d, b, o, 1)
    )
    app = make_app(runs_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        app.screen.query_one("#run-results", RowsTable).focus()
        await pilot.press("down", "enter")  # p01: on boards b0 and b3
        await settle(pilot)
        page = app.screen
        assert isinstance(page, PinPageScreen) and page.pin == "p01"
        boards = page.query_one("#page-boards", RowsTable)
        assert boards.row_count == 1 and "m more" in str(boards.border_title)
        await pilot.press("m")
        await settle(pilot)
        assert [str(k.value) for k in boards.rows] == ["b0", "b3"]
        assert "m more" not in str(boards.border_title)
        board_pins = page.query_one("#page-board-pins", RowsTable)
        board_pins.focus()
        for shown in (2, 3, 4):
            await pilot.press("m")
            await settle(pilot)
            assert board_pins.row_count == shown


async def test_a_query_typed_on_one_dataset_does_not_run_on_another(
    mini_store: Store, mini_dir: Path, make_app: MakeApp
) -> None:
    """Issue 12: a stale query ("50 181:2") ran on another dataset without complaint."""
    load_dataset(mini_store, [mini_dir], "other")
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.dataset = "mini"
        await pilot.press("3")
        await settle(pilot)
        app.add_query_pin("p01")
        await settle(pilot)
        box = app.screen.query_one("#rec-pins", Input)
        assert box.value == "p01"
        app.dataset = "other"
        await settle(pilot)
        assert box.value == ""
        app.dataset = "mini"
        await settle(pilot)
        assert box.value == "p01"


async def test_runs_filters_belong_to_a_dataset(
    mini_store: Store, mini_dir: Path, make_app: MakeApp
) -> None:
    load_dataset(mini_store, [mini_dir], "other")
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.dataset = "mini"
        await pilot.press("7")
        await settle(pilot)
        box = app.screen.query_one("#runs-text", Input)
        box.value = "alpha=0.5"
        await settle(pilot)
        app.dataset = "other"
        await settle(pilot)
        assert box.value == ""
        assert app.screen.query_one("#runs-dataset").value == "other"  # type: ignore[attr-defined]
        app.dataset = "mini"
        await settle(pilot)
        assert box.value == "alpha=0.5"


async def test_explain_panel_shows_the_parts_of_an_object_crop_score(
    mini_store: Store, make_app: MakeApp
) -> None:
    """A crop that shows an object scores region cosine + weight x object cosine: the panel
    names the region's cosine as such and adds the object's cosine and where it was found."""
    app = make_app(mini_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        panel = ExplainPanel()
        await app.screen.mount(panel)
        visual = {"similarity": 0.81, "distance": 0.19, "crop": [0, 0, 16, 16],
                  "matched_region": [4, 4, 20, 20], "object_weight": 4.0,
                  "object_cosine": 0.9557, "object_box": [12, 3, 36, 37]}  # fmt: skip
        data = {"algorithm": "visual:builtin", "score": 4.6328, "pin": "p00", "visual": visual}
        panel.show(data)
        await pilot.pause()
        text = _summary_text(panel)
        assert "Region cosine" in text and "0.8100" in text
        assert "Object cosine   0.9557 (x 4 in the score)" in text
        assert "Matched object  12,3,36,37" in text
        panel.show({**data, "visual": {"similarity": 0.9, "distance": 0.1}})  # a whole image
        await pilot.pause()
        text = _summary_text(panel)
        assert "Similarity" in text and "Object" not in text


def _summary_text(panel: ExplainPanel) -> str:
    """The panel's summary grid as plain text."""
    from rich.console import Console
    from textual.widgets import Static

    console = Console(width=76, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(panel.query_one("#explain-summary", Static).content)
    return console.export_text()
