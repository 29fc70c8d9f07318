"""Visual screen: a search before indexing offers the index and runs once it is built; a bad crop
is reported as it is typed and the keys move the box; the ranking goes to Compare with the walk
run of the same pin, and is fused with it; Explore's v searches for the pin on show."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image
from textual.widgets import Button, Input, Label, Select, Static

from tests.tui.conftest import settle
from workbench.engine.runs import list_runs, run_results
from workbench.engine.store import Store
from workbench.services.visual import embeddings
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.crop_preview import OUTLINE, CropPreview, draw_box
from workbench.tui.widgets.rows_table import RowsTable

MakeApp = Callable[[Store], WorkbenchApp]


async def test_index_search_crop_compare_fuse(runs_store: Store, make_app: MakeApp) -> None:
    app = make_app(runs_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        screen = app.screen
        error = screen.query_one("#vis-error", Label)
        await pilot.press(*"p00", "enter")  # the pin box has focus; Enter searches
        await settle(pilot)
        assert "has no 'builtin' embedding yet" in str(error.render())
        assert screen.query_one("#vis-index", Button).has_focus
        await pilot.press("enter")  # indexes, then runs the search it offered
        await settle(pilot)
        assert embeddings(runs_store, "mini") == ["builtin"]
        [run] = list_runs(runs_store, kind="visual")
        assert run.query == {"pin": "p00"} and run.params["k"] == 10  # the one default
        table = screen.query_one("#vis-table", RowsTable)
        assert table.has_focus and table.row_count == 10
        assert str(table.border_title).startswith(f"Run {run.run_id}: 10 pins like p00")
        top = [table.get_row_at(i)[2] for i in range(3)]
        assert set(top) == {"p04", "p08", "p12"}  # red, like p00, before any other colour

        # A crop box outside the 32x32 image is reported as it is typed, and not searched.
        crop = screen.query_one("#vis-crop", Input)
        hint = screen.query_one("#vis-crop-hint", Static)
        crop.value = "20,20,16,16"
        await pilot.pause()
        assert "outside the image (32x32 pixels)" in str(hint.render())
        assert "-invalid" in hint.classes
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "outside the image" in str(error.render())
        crop.value = "1,2,3"
        await pilot.pause()
        assert "four whole numbers" in str(hint.render())
        assert len(list_runs(runs_store, kind="visual")) == 1

        # On the picture the arrows move the box and shift+arrows resize it (2 px steps).
        crop.value = ""
        screen.query_one(CropPreview).focus()
        await pilot.press("right", "shift+down")
        await pilot.pause()
        assert crop.value == "10,8,16,18"
        assert screen.query_one(CropPreview).box == (10, 8, 16, 18)
        assert "-invalid" not in hint.classes

        # The newest walk run of p00 is chosen; m compares it with the visual ranking.
        assert screen.query_one("#vis-walk", Select).value == 2
        table.focus()
        await pilot.press("m")
        await settle(pilot)
        assert app.current_mode == "compare", [n.message for n in app._notifications]
        assert app.screen.query_one("#compare-runs", Input).value == f"{run.run_id} 2"
        assert app.screen.query_one("#compare-summary", RowsTable).row_count == 1

        await pilot.press("4", "ctrl+f")
        await settle(pilot)
        [fused] = list_runs(runs_store, kind="fusion")
        assert fused.params["runs"] == [run.run_id, 2] and fused.params["method"] == "rrf"
        assert str(table.border_title) == (
            f"Run {fused.run_id}: rrf fusion of visual run {run.run_id} and itemknn run 2"
        )
        pins = run_results(runs_store, fused.run_id)["pin"].to_list()
        assert [table.get_row_at(i)[2] for i in range(table.row_count)] == pins

        # m compares the ranking on screen (now the fusion) with the walk, not the last search.
        table.focus()
        await pilot.press("m")
        await settle(pilot)
        assert app.current_mode == "compare"
        assert app.screen.query_one("#compare-runs", Input).value == f"{fused.run_id} 2"


async def test_f1_lists_the_crop_keys(mini_store: Store, make_app: MakeApp) -> None:
    from workbench.tui.screens.help import HelpScreen

    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = {row[2]: row[1] for row in app.screen.rows}
        assert "arrows move it, shift+arrows resize" in rows["visual.crop"]
        await pilot.press("escape", "ctrl+b")
        await settle(pilot)
        assert isinstance(app.screen.focused, CropPreview)


async def test_explore_sends_a_pin(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        app.screen.query_one("#explore-search", Input).value = "p05"
        await settle(pilot)
        await pilot.press("enter", "enter")
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert app.current_mode == "visual"
        screen = app.screen
        assert screen.query_one("#vis-pin", Input).value == "p05"
        assert screen.query_one(CropPreview).image_size == (32, 32)
        # The search ran: this dataset is not indexed yet, and the screen says how to do it.
        assert "press ^o (Index images)" in str(screen.query_one("#vis-error", Label).render())


def test_crop_box_drawing() -> None:
    """Outside the box is dimmed, the box is outlined, inside it the picture is unchanged; the
    box is given in pixels of the full image, the drawing is on a smaller copy."""
    thumbnail = Image.new("RGB", (100, 50), (200, 200, 200))
    drawn = draw_box(thumbnail, (200, 100), (40, 20, 80, 60))  # (20, 10) to (60, 40) here
    dimmed = drawn.getpixel((5, 5))
    assert isinstance(dimmed, tuple) and all(abs(c - 80) <= 1 for c in dimmed)  # 40% of 200
    assert drawn.getpixel((20, 10)) == OUTLINE and drawn.getpixel((59, 39)) == OUTLINE
    assert drawn.getpixel((40, 25)) == (200, 200, 200)
    assert thumbnail.getpixel((5, 5)) == (200, 200, 200)  # a copy was drawn on


async def test_a_dataset_without_images_says_so(
    mini_store: Store, make_app: MakeApp, tmp_path: Path
) -> None:
    """Not "index the images first" (indexing would then say there are none)."""
    from workbench.engine.ingest import load_dataset
    from workbench.tui.widgets.ranked_pins import RankedPins

    plain = tmp_path / "plain.csv"
    plain.write_text("board,pin\n1,10\n1,11\n2,11\n")
    load_dataset(mini_store, [plain], "plain")
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        results = app.screen.query_one(RankedPins).table
        assert results.border_title == "Index the images of mini first (^o)"
        app.dataset = "plain"
        await settle(pilot)
        assert results.border_title == (
            "plain has no images (load it with its images to search by look)"
        )
