"""Datasets screen: the list, loading through the dialog (errors inline), cancel, drop, copy."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Label

from tests.conftest import write
from tests.tui.conftest import settle, wait_until
from workbench.engine.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.load_dialog import LoadDialog
from workbench.tui.widgets.rows_table import RowsTable

MakeApp = Callable[[Store], WorkbenchApp]


async def test_first_screen_lists_the_datasets(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert app.current_mode == "datasets"
        assert app.dataset == "mini"
        table = app.screen.query_one("#datasets-table", RowsTable)
        assert table.row_count == 1 and table.cursor_key == "mini"


async def test_load_through_the_dialog(
    mini_store: Store, make_app: MakeApp, tiny_dir: Path
) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        assert isinstance(app.screen, LoadDialog)
        app.screen.query_one("#load-path", Input).value = str(tiny_dir)
        await pilot.pause()
        assert app.screen.query_one("#load-name", Input).value == "tiny"
        await pilot.click("#load-ok")
        await settle(pilot)
        assert not isinstance(app.screen, LoadDialog)
        assert {d.name for d in mini_store.datasets()} == {"mini", "tiny"}
        assert app.dataset == "tiny"
        assert any("loaded tiny" in n.message for n in app._notifications)
        # issue 12 defect 2: the cursor, the summary and the focus follow the new dataset
        table = app.screen.query_one(RowsTable)
        await wait_until(pilot, lambda: table.cursor_key == "tiny")
        assert table.has_focus
        summary = app.screen.query_one("#dataset-detail")
        await wait_until(pilot, lambda: summary.border_title == "Summary of tiny")


async def test_bad_input_is_shown_in_the_dialog(
    mini_store: Store, make_app: MakeApp, tmp_path: Path
) -> None:
    bad = write(tmp_path / "bad" / "things.csv", "foo,bar\n1,2\n").parent
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        dialog = app.screen

        def error(field: str) -> str:
            return str(dialog.query_one(f"#load-{field}-error", Label).render())

        dialog.query_one("#load-path", Input).value = str(tmp_path / "missing")
        dialog.query_one("#load-name", Input).value = "Bad Name"
        await pilot.pause()
        assert "no such file or directory" in error("path")
        assert "invalid dataset name" in error("name")
        dialog.query_one("#load-name", Input).value = "mini"
        await pilot.pause()
        assert "exists: tick Replace" in error("name")
        # Valid fields, but the engine rejects the file: the message stays in the dialog.
        dialog.query_one("#load-path", Input).value = str(bad)
        dialog.query_one("#load-name", Input).value = "bad"
        await pilot.click("#load-ok")
        await settle(pilot)
        assert app.screen is dialog
        assert "no id column" in str(dialog.query_one("#load-error", Label).render())
        assert [d.name for d in mini_store.datasets()] == ["mini"]


async def test_esc_cancels_a_load(
    mini_store: Store, make_app: MakeApp, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_load(store: Store, paths: list[Path], name: str, **kw: object) -> None:
        reporter = kw["reporter"]
        for i in range(3000):  # reports progress until the TUI stops it (a minute at most)
            reporter.progress(i, 3000, "reading files")  # type: ignore[attr-defined]
            time.sleep(0.02)
        raise AssertionError("the load was not cancelled")

    monkeypatch.setattr("workbench.engine.ingest.load_dataset", slow_load)
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        app.screen.query_one("#load-path", Input).value = str(tiny_dir)
        await pilot.click("#load-ok")
        await pilot.pause(0.2)
        dialog = app.screen
        assert dialog.query_one("JobBar").display
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is dialog  # the first Esc stops the load, the dialog stays
        assert not dialog.query_one("JobBar").display
        assert any("cancelled" in n.message for n in app._notifications)
        await pilot.press("escape")
        assert not isinstance(app.screen, LoadDialog)
        assert [d.name for d in mini_store.datasets()] == ["mini"]


async def test_drop_asks_first(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert mini_store.datasets()
        await pilot.press("d", "y")
        await wait_until(pilot, lambda: mini_store.datasets() == [])
        assert app.dataset is None


async def test_copy_rows_as_tsv(mini_store: Store, make_app: MakeApp) -> None:
    app = make_app(mini_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        lines = app.clipboard.splitlines()
        assert lines[0].split("\t") == [
            "Use",
            "Name",
            "Format",
            "Pins",
            "Boards",
            "Edges",
            "Badges",
        ]
        assert lines[1].split("\t")[1:4] == ["mini", "csv", "16"]
