"""The explore service: search by id prefix and substring, paged pin and board pages, and degree
histograms in log bins with whole-number counts."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write
from workbench.engine.ingest import load_dataset
from workbench.engine.store import Store
from workbench.services import explore


def _store(tmp_path: Path) -> Store:
    d = tmp_path / "ids"
    pins = ["pin,title"] + [f"p{i:05d},Thing {i}" for i in range(60)] + ["x9,Red apple"]
    edges = ["board,pin"] + [f"b{i % 7},p{i:05d}" for i in range(60)] + ["b0,x9", "b1,x9"]
    write(d / "pins.csv", "\n".join(pins) + "\n")
    write(d / "edges.csv", "\n".join(edges) + "\n")
    store = Store(tmp_path / "e.duckdb")
    load_dataset(store, [d], "ids")
    return store


def test_search_finds_ids_by_prefix_and_substring_within_a_limit(tmp_path: Path) -> None:
    store = _store(tmp_path)
    hits = explore.search(store, "ids", "p0004")
    assert [h.id for h in hits] == [f"p0004{i}" for i in range(10)]
    exact = explore.search(store, "ids", "p00041")
    assert exact[0] == explore.SearchHit("pin", "p00041", "Thing 41")
    inside = {h.id for h in explore.search(store, "ids", "0005")}
    assert inside == {"p00005", *(f"p0005{i}" for i in range(10))}
    assert [h.id for h in explore.search(store, "ids", "apple red")] == ["x9"]
    assert len(explore.search(store, "ids", "p", limit=7)) == 7
    assert explore.search(store, "ids", "   ") == []


def test_pin_and_board_pages_are_paged(tmp_path: Path) -> None:
    store = _store(tmp_path)
    pin = explore.pin_page(store, "ids", "x9", limit=1)
    assert (pin.pin, pin.degree, [b["board"] for b in pin.boards], pin.more) == ("x9", 2, ["b0"],
                                                                                 True)  # fmt: skip
    assert pin.boards[0]["pins"] == 10  # b0 has p0, p7, ..., p56 and x9
    board = explore.board_page(store, "ids", "b0", offset=8, limit=5)
    assert board.size == 10 and [p["pin"] for p in board.pins] == ["p00056", "x9"]
    assert not board.more and board.row["board"] == "b0"


def test_degree_histograms_use_log_bins_and_whole_counts(tmp_path: Path) -> None:
    store = _store(tmp_path)
    hist = explore.degree_histograms(store, "ids")
    assert hist.pins.labels == ["1", "2-3"] and hist.pins.counts == [60, 1]
    assert hist.pins.nodes == 61 and sum(hist.pins.counts) == 61
    assert hist.boards.labels == ["8-15"] and hist.boards.counts == [7]
    assert all(isinstance(c, int) for c in hist.pins.counts + hist.boards.counts)
