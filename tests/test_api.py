"""The notebook API returns original ids in polars frames."""

from __future__ import annotations

from pathlib import Path

import workbench as wb


def test_notebook_api_round_trip(tmp_path: Path, tiny_dir: Path) -> None:
    store = wb.open_store(tmp_path / "nb.duckdb")
    wb.load(store, [tiny_dir], "tiny")
    assert wb.datasets(store)["name"].to_list() == ["tiny"]
    assert wb.pins(store, "tiny")["pin"].to_list() == ["a", "b", "c", "d", "e"]
    assert wb.boards(store, "tiny").columns == ["board", "name", "topic"]
    e = wb.edges(store, "tiny")
    assert e.height == 7 and set(e["board"]) == {"B1", "B2", "B3"}
    assert wb.info(store, "tiny")["edges"] == 7
    assert wb.runs(store).height == 0
