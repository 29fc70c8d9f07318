"""The graph: CSR arrays in both directions, attributes, the cache next to the store, pruning."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write
from workbench.engine import graph as graph_module
from workbench.engine.errors import Cancelled, StoreError, WorkbenchError
from workbench.engine.graph import NO_TIME, Attribute, Graph, board_entropy, load_graph, prune
from workbench.engine.ingest import load_dataset
from workbench.engine.progress import Reporter
from workbench.engine.recommenders import Query, create
from workbench.engine.store import Store

#        board: 0        1      2
EDGES = [(0, 0), (0, 1), (1, 2), (1, 0), (2, 3), (2, 4), (2, 1)]


def small(**kw: object) -> Graph:
    boards, pins = np.array(EDGES).T
    return Graph.from_edges(5, 3, boards, pins, **kw)  # type: ignore[arg-type]


def test_csr_both_directions_sorted_with_aligned_weights_and_times() -> None:
    w = np.arange(1, 8, dtype=np.float32)
    t = np.arange(7, dtype=np.int64) * 10
    g = small(weights=w, times=t)
    assert g.n_edges == 7
    assert g.pin_indptr.dtype == np.int64 and g.pin_boards.dtype == np.int32
    assert [g.pins_of(b).tolist() for b in range(3)] == [[0, 1], [0, 2], [1, 3, 4]]
    assert [g.boards_of(p).tolist() for p in range(5)] == [[0, 1], [0, 2], [1], [2], [2]]
    assert g.pin_degree.tolist() == [2, 2, 1, 1, 1] and g.board_degree.tolist() == [2, 2, 3]
    weight = {e: float(x) for e, x in zip(EDGES, w, strict=True)}
    boards, pins = g.edges()
    assert g.board_weights is not None and g.pin_weights is not None
    assert [weight[(b, p)] for b, p in zip(boards, pins, strict=True)] == g.board_weights.tolist()
    pin_rows = np.repeat(np.arange(5), g.pin_degree)
    assert [weight[(int(b), int(p))] for b, p in zip(g.pin_boards, pin_rows, strict=True)] == (
        g.pin_weights.tolist()
    )
    assert g.board_times is not None and g.board_times.tolist() == [0, 10, 30, 20, 60, 40, 50]
    m = g.interactions(weighted=True).toarray()
    assert m.shape == (3, 5) and m[2, 1] == 7.0 and m[1, 1] == 0.0
    with pytest.raises(WorkbenchError, match="no edge weights"):
        small().interactions(weighted=True)


def test_edges_to_missing_nodes_are_refused() -> None:
    with pytest.raises(StoreError, match="missing pin 9"):
        Graph.from_edges(5, 3, np.array([0]), np.array([9]))
    with pytest.raises(StoreError, match="missing board -1"):
        Graph.from_edges(5, 3, np.array([-1]), np.array([0]))
    with pytest.raises(WorkbenchError, match="attribute 'topic' has 2 values for 5 pins"):
        small(pin_attributes={"topic": Attribute(np.zeros(2, np.int32), ("a",))})


def test_board_topics_use_the_board_column_or_the_most_common_pin_topic() -> None:
    topic = Attribute(np.array([0, 0, 1, 2, 2], np.int32), ("a", "b", "c"))
    g = small(pin_attributes={"topic": topic})
    assert g.board_topics("topic").tolist() == [0, 0, 2]  # board 1: a tie a/b -> first
    own = Attribute(np.array([1, -1, 0], np.int32), ("b", "c"))
    g = small(pin_attributes={"topic": topic}, board_attributes={"topic": own})
    assert g.board_topics("topic").tolist() == [2, -1, 1]
    with pytest.raises(WorkbenchError, match="no pin attribute 'colour'"):
        g.pin_attribute("colour")


def test_load_graph_from_the_store_and_its_cache(
    store: Store, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_dataset(store, [tiny_dir], "tiny")
    g = load_graph(store, "tiny")
    assert (g.n_pins, g.n_boards, g.n_edges) == (5, 3, 7)
    rows = store.query('SELECT board_idx, pin_idx, weight FROM "tiny".edges')
    boards, pins = g.edges()
    assert g.board_weights is not None
    got = {
        (int(b), int(p)): float(w) for b, p, w in zip(boards, pins, g.board_weights, strict=True)
    }
    assert got == {(b, p): w for b, p, w in rows}
    assert g.board_times is not None and (g.board_times != NO_TIME).all()
    topic = g.pin_attributes["topic"]
    assert topic.values == ("animal", "fruit", "vehicle")
    assert [topic.values[c] for c in topic.codes] == [
        "fruit",
        "fruit",
        "vehicle",
        "animal",
        "animal",
    ]
    assert g.pin_attributes["score"].values == ("1", "2", "3", "4", "5")
    assert g.board_attributes["topic"].values == ("animal", "fruit", "vehicle")
    fingerprint = store.dataset("tiny").fingerprint
    cache = store.cache_dir("tiny", fingerprint) / graph_module.CACHE_DIR
    assert (cache / "meta.json").exists() and (cache / "board_pins.npy").exists()
    # The arrays are the cache files mapped read-only, not copies.
    assert isinstance(g.board_pins, np.memmap) and not g.board_pins.flags.writeable
    assert Path(g.board_pins.filename) == (cache / "board_pins.npy").resolve()

    # A second start maps the cache and never rebuilds.
    graph_module._memo.clear()
    monkeypatch.setattr(graph_module, "_build", lambda *a: pytest.fail("rebuilt"))
    again = load_graph(store, "tiny")
    assert np.array_equal(again.board_pins, g.board_pins)
    assert np.array_equal(again.pin_times, g.pin_times)  # type: ignore[arg-type]
    assert again.pin_attributes["topic"].values == topic.values
    assert np.array_equal(again.pin_attributes["topic"].codes, topic.codes)
    monkeypatch.undo()

    # A corrupt or truncated cache is rebuilt; a reloaded dataset (new fingerprint) gets a new
    # cache, and the old version's directory goes.
    for damage in (b"not an npy file", (cache / "pin_boards.npy").read_bytes()[:-4]):
        (cache / "pin_boards.npy").unlink()  # a new file: the mapped one stays as it was
        (cache / "pin_boards.npy").write_bytes(damage)
        graph_module._memo.clear()
        assert np.array_equal(load_graph(store, "tiny").pin_boards, g.pin_boards)
    old_dir = store.cache_dir("tiny", fingerprint)
    write(tiny_dir / "edges.csv", "board,pin\nB1,a\nB2,c\n")
    load_dataset(store, [tiny_dir], "tiny", replace=True)
    assert load_graph(store, "tiny").n_edges == 2
    assert not old_dir.exists()
    assert (store.cache_dir("tiny", store.dataset("tiny").fingerprint) / "graph-v2").is_dir()


def test_chunked_build_matches_the_in_memory_build(
    store: Store, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_dataset(store, [tiny_dir], "tiny")
    whole = load_graph(store, "tiny")
    graph_module._memo.clear()
    for d in store.artifacts_root("tiny").iterdir():
        shutil.rmtree(d)
    monkeypatch.setattr(graph_module, "BATCH_ROWS", 2)  # four chunks of the seven edges
    chunked = load_graph(store, "tiny")
    boards, pins = whole.edges()
    assert whole.board_weights is not None and whole.board_times is not None
    expected = Graph.from_edges(
        5, 3, boards, pins, weights=whole.board_weights, times=whole.board_times
    )
    for name in graph_module._ARRAYS:
        assert np.array_equal(getattr(chunked, name), getattr(expected, name)), name


@pytest.mark.parametrize(("chunk", "block_bits"), [(1 << 24, 14), (7, 2), (1, 0), (50, 3)])
def test_edges_in_any_order_give_sorted_rows_with_aligned_values(
    chunk: int, block_bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_module, "TRANSPOSE_CHUNK", chunk)
    monkeypatch.setattr(graph_module, "PIN_BLOCK_BITS", block_bits)
    monkeypatch.setattr(graph_module, "BOARD_BLOCK_BITS", block_bits)
    rng = np.random.default_rng(4)
    n_pins, n_boards = 40, 15
    pairs = np.array(sorted({(int(b), int(p)) for b, p in rng.integers(0, [15, 40], (200, 2))}))
    w = rng.random(len(pairs)).astype(np.float32)
    t = rng.integers(0, 10**9, len(pairs))
    ordered = Graph.from_edges(n_pins, n_boards, pairs[:, 0], pairs[:, 1], weights=w, times=t)
    shuffle = rng.permutation(len(pairs))
    g = Graph.from_edges(
        n_pins, n_boards, pairs[shuffle, 0], pairs[shuffle, 1], weights=w[shuffle], times=t[shuffle]
    )
    for name in graph_module._ARRAYS:
        assert np.array_equal(getattr(g, name), getattr(ordered, name)), name
    by_pin = np.lexsort((pairs[:, 0], pairs[:, 1]))  # pin-major, boards ascending
    assert np.array_equal(g.pin_boards, pairs[by_pin, 0])
    assert g.pin_weights is not None and np.array_equal(g.pin_weights, w[by_pin])
    assert g.pin_times is not None and np.array_equal(g.pin_times, t[by_pin])
    assert all(np.all(np.diff(g.pins_of(b)) > 0) for b in range(n_boards))
    assert all(np.all(np.diff(g.boards_of(p)) > 0) for p in range(n_pins))
    dense = np.zeros((n_boards, n_pins), np.float32)
    dense[pairs[:, 0], pairs[:, 1]] = w
    assert np.array_equal(g.interactions(weighted=True).toarray(), dense)


def test_a_cache_path_that_is_a_file_only_costs_the_cache(
    store: Store, tiny_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    load_dataset(store, [tiny_dir], "tiny")
    graph_module._memo.clear()
    graph_module._warned.clear()
    shutil.rmtree(store.path.parent / f"{store.path.name}.cache", ignore_errors=True)
    (store.path.parent / f"{store.path.name}.cache").write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="workbench.engine.graph"):
        g = load_graph(store, "tiny")
        graph_module._memo.clear()
        load_graph(store, "tiny")
    assert (g.n_pins, g.n_boards, g.n_edges) == (5, 3, 7)
    assert not isinstance(g.board_pins, np.memmap)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "cannot use the cache directory" in warnings[0]
    assert "\n" not in warnings[0]
    model = create("pixie", {"steps": 1000}).fit(g)
    assert model.recommend(Query([0])).pins.size > 0


def test_walks_run_on_the_read_only_memory_mapped_cache(store: Store, tiny_dir: Path) -> None:
    load_dataset(store, [tiny_dir], "tiny")
    mapped = load_graph(store, "tiny")
    assert not mapped.pin_boards.flags.writeable
    boards, pins = mapped.edges()
    in_memory = Graph.from_edges(
        5,
        3,
        boards,
        pins,
        weights=np.array(mapped.board_weights),
        times=np.array(mapped.board_times),
        pin_attributes=dict(mapped.pin_attributes),
        board_attributes=dict(mapped.board_attributes),
    )
    for params in ({}, {"bias": "0.7"}, {"credit": "expected"}, {"prune_delta": "0.5"}):
        a = create("pixie", {"steps": "3000", **params}).fit(mapped).recommend(Query([1]), 5, 3)
        b = create("pixie", {"steps": "3000", **params}).fit(in_memory).recommend(Query([1]), 5, 3)
        assert np.array_equal(a.pins, b.pins) and np.array_equal(a.scores, b.scores)


def topical_graph() -> Graph:
    """Pins 0-5 with topics a,a,a,b,b,c: board 0 holds a,a,a, board 1 a,b,c and board 2 a,b,b.
    Pin 0 is on all three boards; its newest edge is to board 1, then board 2, then board 0."""
    topic = Attribute(np.array([0, 0, 0, 1, 1, 2], np.int32), ("a", "b", "c"))
    edges = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 3), (1, 5), (2, 0), (2, 3), (2, 4)]
    times = [1, 1, 1, 3, 1, 1, 2, 1, 1]  # pin 0: board 1 newest, then board 2, then board 0
    boards, pins = np.array(edges).T
    return Graph.from_edges(
        6, 3, boards, pins, times=np.array(times, np.int64), pin_attributes={"topic": topic}
    )


def test_entropy_pruning_drops_mixed_boards() -> None:
    g = topical_graph()
    codes = g.pin_attributes["topic"].codes
    h = -(1 / 3) * np.log2(1 / 3) - (2 / 3) * np.log2(2 / 3)
    assert np.allclose(board_entropy(g, codes), [0.0, np.log2(3), h])
    pruned, report = prune(g, topic="topic", max_entropy=1.0)
    assert report.boards_removed == 1 and report.edges_removed_by_entropy == 3
    assert report.edges_removed_by_degree == 0 and report.edges_after == pruned.n_edges == 6
    assert pruned.pins_of(1).size == 0 and pruned.n_boards == 3  # ids stay the same
    with pytest.raises(WorkbenchError, match="no pin attribute"):
        prune(g, topic="colour", max_entropy=1.0)


def test_degree_pruning_keeps_ceil_deg_delta_edges_in_the_documented_order() -> None:
    g = topical_graph()
    # Pin 0 has degree 3: ceil(3 ** 0.5) = 2 edges stay; all other pins have degree <= 2 and
    # ceil(2 ** 0.5) = 2, ceil(1) = 1, so they keep everything.
    by_topic, report = prune(g, topic="topic", delta=0.5)
    assert report.degree_order == "topic" and report.edges_removed_by_degree == 1
    # Cosine of topic 'a' with the boards' topic distributions: board 0 = 1, board 2 = 1/sqrt(5)
    # (one a, two b), board 1 = 1/sqrt(3): board 2 goes.
    assert by_topic.boards_of(0).tolist() == [0, 1]
    by_time, report = prune(g, delta=0.5)
    assert report.degree_order == "recency" and by_time.boards_of(0).tolist() == [1, 2]
    untimed = Graph.from_edges(g.n_pins, g.n_boards, *g.edges())
    picks = {tuple(prune(untimed, delta=0.5, seed=s)[0].boards_of(0)) for s in range(20)}
    assert len(picks) > 1 and all(len(p) == 2 for p in picks)
    assert prune(untimed, delta=0.5, seed=7)[0].boards_of(0).tolist() == (
        prune(untimed, delta=0.5, seed=7)[0].boards_of(0).tolist()
    )
    with pytest.raises(WorkbenchError, match="delta"):
        prune(g, delta=0.0)


def test_a_cancelled_build_leaves_no_cache_files(store: Store, tiny_dir: Path) -> None:
    load_dataset(store, [tiny_dir], "tiny")
    stages: list[str] = []

    def on_progress(done: float, total: float | None, stage: str) -> None:
        stages.append(stage)

    reporter = Reporter(on_progress=on_progress, is_cancelled=lambda: len(stages) >= 1)
    with pytest.raises(Cancelled):
        load_graph(store, "tiny", reporter)
    cache = store.cache_dir("tiny", store.dataset("tiny").fingerprint)
    assert list(cache.rglob("*.npy")) == [] and list(cache.rglob("*.tmp")) == []
    assert not (cache / graph_module.CACHE_DIR / "meta.json").exists()
    done: list[tuple[float, float | None, str]] = []
    g = load_graph(store, "tiny", Reporter(on_progress=lambda *a: done.append(a)))
    assert g.n_edges == 7 and done[-1][0] == done[-1][1]  # ends at 100%
    assert {s for _, _, s in done} >= {"graph: counting edges", "graph: placing edges"}


def test_a_second_process_maps_the_cache_without_rebuilding(store: Store, tiny_dir: Path) -> None:
    load_dataset(store, [tiny_dir], "tiny")
    g = load_graph(store, "tiny")
    cache = store.cache_dir("tiny", store.dataset("tiny").fingerprint) / graph_module.CACHE_DIR
    before = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    script = (
        "import sys, numpy as np\n"
        "from workbench.engine.graph import load_graph\n"
        "from workbench.engine.store import Store\n"
        "g = load_graph(Store(sys.argv[1]), 'tiny')\n"
        "print(type(g.board_pins).__name__, g.board_pins.filename, g.board_pins.tolist())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(store.path)], capture_output=True, text=True, check=True
    ).stdout.split(maxsplit=2)
    assert out[0] == "memmap" and Path(out[1]) == (cache / "board_pins.npy").resolve()
    assert out[2].strip() == str(g.board_pins.tolist())
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == before  # nothing rewritten
