"""Explanations: re-walked visits that reproduce the real walk, exact splits that reproduce the
stored scores, refusals in one line, the service and the CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sps
from click.testing import CliRunner
from PIL import Image, ImageDraw

from tests.conftest import write
from workbench.cli import main
from workbench.engine.errors import Cancelled, NotFoundError, WorkbenchError
from workbench.engine.explain import explain_ppr, path_weights, trace_walk, walk_score
from workbench.engine.graph import Attribute, Graph
from workbench.engine.ingest import load_dataset
from workbench.engine.progress import Reporter
from workbench.engine.recommend import RecommendResult
from workbench.engine.recommenders import Query, create
from workbench.engine.recommenders.base import pack
from workbench.engine.recommenders.ppr import restart_vectors
from workbench.engine.runs import get_run, run_results, save_run
from workbench.engine.store import Store
from workbench.services import batch, visual
from workbench.services.batch import BatchRequest
from workbench.services.explain import ExplainRequest, Explanation, explain
from workbench.services.recommend import RecommendRequest, recommend
from workbench.services.visual import FuseRequest, IndexRequest, SearchRequest

QUERY_PINS = ["p00000", "p00001", "p00002"]


def stored(store: Store, dataset: str, algo: str, params: dict[str, Any], *,
           pins: list[str] | None = None, weights: list[float] | None = None,
           board: str | None = None, k: int = 10, seed: int = 5) -> RecommendResult:  # fmt: skip
    """A recommendation stored as a run, as the CLI and the TUI make them."""
    request = RecommendRequest(dataset, pins=tuple(pins or ()), board=board, algo=algo,
                               weights=tuple(weights) if weights else None, params=params,
                               k=k, seed=seed)  # fmt: skip
    return recommend(store, request)


def generated_graph(n_pins: int = 80, n_boards: int = 20, seed: int = 1) -> Graph:
    """A random board/pin graph with power-law-ish pin degrees and a pin topic."""
    rng = np.random.default_rng(seed)
    popularity = rng.pareto(1.2, n_pins) + 1
    boards, pins = [], []
    for b in range(n_boards):
        size = int(rng.integers(3, 15))
        members = rng.choice(n_pins, size=size, replace=False, p=popularity / popularity.sum())
        boards += [b] * size
        pins += members.tolist()
    topic = Attribute(codes=rng.integers(0, 3, n_pins).astype(np.int32), values=("a", "b", "c"))
    return Graph.from_edges(
        n_pins, n_boards, np.array(boards), np.array(pins), pin_attributes={"topic": topic}
    )


WALKS = [
    {"steps": 3000, "boost": False},
    {"steps": 3000, "boost": True},
    {"steps": 5000, "alpha": 0.3, "n_p": 8, "n_v": 5, "boost": False},
    {"steps": 4000, "degree_beta": 0.8},
    {"steps": 4000, "bias": 0.7, "bias_side": "both", "boost": False},
    {"steps": 4000, "allocation": "equal", "boost": False},
    {"steps": 4000, "credit": "expected"},
    {"steps": 4000, "credit": "expected", "bias": 0.6, "bias_side": "pin", "n_p": 10},
    {"steps": 4000, "prune_delta": 0.6, "boost": False},
]


@pytest.mark.parametrize("params", WALKS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_rewalk_reproduces_the_real_walk_for_every_ranked_pin(params: dict[str, Any]) -> None:
    # The drift guard: the mirror in engine/explain.py must walk exactly as engine/walks.py does.
    graph = generated_graph()
    model = create("pixie", params).fit(graph)
    query = Query([3, 17, 40], [1.0, 2.0, 0.5])
    for seed in (0, 11):
        ranking = model.recommend(query, k=graph.n_pins, seed=seed)
        assert ranking.pins.size > 5
        for pin, score in zip(ranking.pins, ranking.scores, strict=True):
            found = trace_walk(model, query, seed, int(pin))
            assert found.steps == ranking.steps
            visits = found.query_parts
            if not model.walk_params.boost and model.walk_params.degree_beta == 0.0:
                # Without boosting the score is the walk's visit count of the pin, exactly.
                assert visits.sum() == score
            assert math.isclose(found.score, score, rel_tol=1e-12)
            assert math.isclose(visits.sum(), found.board_parts.sum(), rel_tol=1e-12)
            assert math.isclose(found.query_shares.sum(), 1.0, rel_tol=1e-12)


def test_rewalk_of_a_pin_the_walks_never_reached_counts_nothing() -> None:
    graph = generated_graph()
    model = create("pixie", {"steps": 200}).fit(graph)
    query = Query([3])
    reached = set(model.recommend(query, k=graph.n_pins, seed=0).pins.tolist())
    missed = next(p for p in range(graph.n_pins) if p not in reached and p != 3)
    found = trace_walk(model, query, 0, missed)
    assert found.query_parts.sum() == 0 and found.boards.size == 0
    assert walk_score(found.query_parts, 1, model.walk_params) == 0.0


@pytest.mark.parametrize(
    ("algo", "params"),
    [
        ("p3alpha", {"topk": 1000, "normalize": False, "alpha": 0.7}),
        ("rp3beta", {"topk": 1000, "normalize": False, "alpha": 1.3, "beta": 0.5}),
        ("itemknn", {"topk": 1000, "shrink": 0.0}),
    ],
)
def test_path_weights_are_the_terms_of_the_similarity(algo: str, params: dict[str, Any]) -> None:
    # Without row normalisation or top-k cuts W[i, j] is the sum of the path weights times a
    # factor that depends on i and j only: checks the paths, not merely their proportions.
    graph = generated_graph()
    model = create(algo, params).fit(graph)
    w: sps.csr_matrix = model.similarity  # type: ignore[attr-defined]
    degree = graph.pin_degree.astype(np.float64)
    norm = np.sqrt(degree)
    checked = 0
    for i in range(0, graph.n_pins, 7):
        for j in range(graph.n_pins):
            if i == j or degree[i] == 0 or degree[j] == 0:
                continue
            _, paths = path_weights(model, i, j)
            factor = {
                "p3alpha": 1.0,
                "rp3beta": degree[j] ** -params.get("beta", 0.0),
                "itemknn": 1.0 / (norm[i] * norm[j] + 1e-6),
            }[algo]
            assert math.isclose(paths.sum() * factor, w[i, j], rel_tol=1e-9, abs_tol=1e-15)
            checked += paths.size > 0
    assert checked > 20


def test_ppr_contributions_match_a_linear_solve() -> None:
    # x = alpha (I - (1 - alpha) P^T)^-1 r, solved directly: the contribution of query pin q is
    # r_q times that solve for e_q, and a board's is (1 - alpha) sum_{p in b} x_p / deg p / deg b.
    graph = generated_graph()
    model = create("ppr", {"alpha": 0.3, "tol": 1e-14}).fit(graph)
    query = Query([3, 17, 40], [1.0, 2.0, 0.5])
    p_pb = sps.diags(1.0 / np.maximum(graph.pin_degree, 1)) @ graph.interactions().T
    p_bp = sps.diags(1.0 / np.maximum(graph.board_degree, 1)) @ graph.interactions()
    chain = (p_pb @ p_bp).toarray()  # pin -> pin transitions
    solve = 0.3 * np.linalg.inv(np.eye(graph.n_pins) - 0.7 * chain.T)
    ranking = model.recommend(query, k=5)
    r = restart_vectors(graph, pack([query], None, graph.n_pins), slice(0, 1))[0]
    x = solve @ r
    for target, score in zip(ranking.pins, ranking.scores, strict=True):
        found = explain_ppr(model, query, int(target))
        assert math.isclose(found.score, score, rel_tol=1e-9)
        expected = r[query.pins] * solve[target, query.pins]
        np.testing.assert_allclose(found.query_parts, expected, rtol=1e-8)
        for b, part in zip(found.boards, found.board_parts, strict=True):
            members = graph.pins_of(int(b))
            exact = 0.7 * (x[members] / graph.pin_degree[members]).sum() / graph.board_degree[b]
            assert math.isclose(part, exact, rel_tol=1e-8)


# -- the service on stored runs -------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, int]]:
    """The sample with one stored run per algorithm (shared by the read-only tests below)."""
    path = tmp_path_factory.mktemp("explain") / "wb.duckdb"
    store = Store(path)
    load_dataset(store, [Path(__file__).resolve().parent.parent / "sample_data"], "sample")
    runs = {}
    for label, algo, params, kwargs in [
        ("pixie", "pixie", {}, {"pins": QUERY_PINS}),
        ("pixie-board", "pixie", {"steps": 20000}, {"board": "b0040"}),
        ("pixie-dn", "pixie-dn", {}, {"pins": QUERY_PINS, "weights": [1.0, 0.5, 2.0]}),
        ("rp3beta", "rp3beta", {}, {"pins": QUERY_PINS}),
        ("p3alpha", "p3alpha", {}, {"pins": QUERY_PINS}),
        ("itemknn", "itemknn", {}, {"board": "b0132"}),
        ("ppr", "ppr", {}, {"pins": QUERY_PINS}),
        ("popular", "popular", {}, {"pins": QUERY_PINS}),
    ]:
        runs[label] = stored(store, "sample", algo, params, **kwargs).run_id
    return store, runs


def ranked(store: Store, run_id: int) -> list[tuple[str, float]]:
    return [(p, s) for p, s in run_results(store, run_id).select("pin", "score").iter_rows()]


def check_shares(e: Explanation) -> None:
    for rows in (e.by_query_pin, e.via_boards):
        if rows:
            assert math.isclose(sum(r.share for r in rows), 1.0, rel_tol=1e-9)
            assert all(0.0 <= r.share <= 1.0 + 1e-12 for r in rows)


@pytest.mark.parametrize("label", ["pixie", "pixie-board", "pixie-dn"])
def test_walk_explanation_visits_add_up_and_shares_sum_to_one(
    runs_store: tuple[Store, dict[str, int]], label: str
) -> None:
    store, runs = runs_store
    run = get_run(store, runs[label])
    for pin, score in ranked(store, run.run_id)[:4]:
        e = explain(store, ExplainRequest(run.run_id, pin, top=2))
        assert e.method == "walk" and e.score == score and e.steps == run.steps
        assert math.isclose(sum(q.visits for q in e.by_query_pin), e.total, rel_tol=1e-12)
        assert math.isclose(sum(b.visits for b in e.via_boards), e.total, rel_tol=1e-12)
        assert len(e.via_boards) <= 3 and len(e.by_query_pin) <= 3
        check_shares(e)
        assert e.degree >= 1 and 1 <= e.popularity_rank <= e.n_pins


@pytest.mark.parametrize("label", ["rp3beta", "p3alpha", "itemknn", "ppr"])
def test_exact_contributions_reproduce_the_stored_score(
    runs_store: tuple[Store, dict[str, int]], label: str
) -> None:
    store, runs = runs_store
    for pin, score in ranked(store, runs[label]):
        e = explain(store, ExplainRequest(runs[label], pin, top=50))
        assert e.method == "exact" and e.unit == "contribution"
        assert math.isclose(sum(q.visits for q in e.by_query_pin), score, rel_tol=1e-9)
        assert math.isclose(sum(b.visits for b in e.via_boards), score, rel_tol=1e-9)
        check_shares(e)


def test_popular_is_explained_by_popularity_alone(runs_store: tuple[Store, dict[str, int]]) -> None:
    store, runs = runs_store
    pin, score = ranked(store, runs["popular"])[0]
    e = explain(store, ExplainRequest(runs["popular"], pin))
    assert e.method == "popularity" and e.degree == score and e.popularity_rank == 1
    assert not e.by_query_pin and not e.via_boards and e.notes


def test_rest_rows_sum_what_top_leaves_out(runs_store: tuple[Store, dict[str, int]]) -> None:
    store, runs = runs_store
    pin, _ = ranked(store, runs["pixie-board"])[0]
    full = explain(store, ExplainRequest(runs["pixie-board"], pin, top=1000))
    short = explain(store, ExplainRequest(runs["pixie-board"], pin, top=2))
    assert short.by_query_pin[-1].pin is None and short.by_query_pin[-1].others > 0
    assert len(short.by_query_pin) == 3
    assert len(full.by_query_pin) == 2 + short.by_query_pin[-1].others
    assert math.isclose(sum(q.visits for q in short.by_query_pin), full.total, rel_tol=1e-12)
    assert full.n_boards == short.n_boards == len(full.via_boards)


def test_refusals_are_one_line(runs_store: tuple[Store, dict[str, int]]) -> None:
    store, runs = runs_store
    cases = [
        (ExplainRequest(9999, "p00001"), NotFoundError, "unknown run 9999"),
        (ExplainRequest(runs["pixie"], "nope"), NotFoundError, "unknown pin 'nope'"),
        (ExplainRequest(runs["pixie"], "p00000"), NotFoundError, "is not in run"),
        (ExplainRequest(runs["pixie"], "p00001", top=0), WorkbenchError, "at least 1"),
        (ExplainRequest(runs["pixie"], "p00001", board="b0001"), WorkbenchError, "no board"),
    ]
    for request, error, words in cases:
        with pytest.raises(error) as info:
            explain(store, request)
        assert words in str(info.value) and "\n" not in str(info.value)


def test_a_cancelled_explanation_stops(runs_store: tuple[Store, dict[str, int]]) -> None:
    store, runs = runs_store
    pin, _ = ranked(store, runs["ppr"])[0]
    with pytest.raises(Cancelled):
        explain(store, ExplainRequest(runs["ppr"], pin), Reporter(is_cancelled=lambda: True))


def copy_with_run(store: Store, tmp_path: Path, **changes: Any) -> tuple[Store, int]:
    """A copy of the store with a copy of the stored pixie run, changed as given."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(store.path, path)
    copy = Store(path)
    base = get_run(copy, 1)
    results = changes.pop("results", None)
    if results is None:
        results = run_results(copy, 1)
    if "score_factor" in changes:
        results = results.with_columns(pl.col("score") * changes.pop("score_factor"))
    fields = dict(dataset=base.dataset, kind=base.kind, algorithm=base.algorithm,
                  params=base.params, seed=base.seed, fingerprint=base.fingerprint,
                  steps=base.steps, query=base.query)  # fmt: skip
    fields.update(changes)
    return copy, save_run(copy, results=results, **fields)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"params": {"steps": 100_000, "walkers": 7}}, "walkers=7, which explain cannot"),
        ({"params": {"credit": "rao-blackwell"}}, "credit='rao-blackwell', which explain"),
        ({"algorithm": "rp3beta", "params": {"beta": 0.6, "gamma": 2}}, "gamma=2, which explain"),
        ({"score_factor": 1.5}, "cannot be reproduced"),
        ({"kind": "eval"}, "is an evaluation"),
        ({"fingerprint": "0" * 32}, "changed since run"),
    ],
)
def test_runs_that_cannot_be_explained_are_refused(
    runs_store: tuple[Store, dict[str, int]], tmp_path: Path, changes: dict[str, Any], words: str
) -> None:
    store, runs = runs_store
    assert runs["pixie"] == 1
    copy, run_id = copy_with_run(store, tmp_path, **changes)
    pin = run_results(copy, run_id)["pin"][0]
    with pytest.raises(WorkbenchError, match=words) as info:
        explain(copy, ExplainRequest(run_id, pin))
    assert "\n" not in str(info.value)


def test_a_reloaded_dataset_refuses_older_runs(tmp_path: Path, tiny_dir: Path) -> None:
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, [tiny_dir], "tiny")
    run = stored(store, "tiny", "pixie", {"steps": 2000}, pins=["a"], k=3, seed=1)
    pin = run.results["pin"][0]
    assert explain(store, ExplainRequest(run.run_id, pin)).score == run.results["score"][0]
    edges = tiny_dir / "edges.csv"
    write(edges, edges.read_text() + "B1,e,1,2024-01-08 00:00:00\n")
    load_dataset(store, [tiny_dir], "tiny", replace=True)
    with pytest.raises(WorkbenchError, match="dataset 'tiny' changed since run"):
        explain(store, ExplainRequest(run.run_id, pin))


def test_visual_run_shows_distance_and_says_the_region_was_not_stored(
    runs_store: tuple[Store, dict[str, int]], tmp_path: Path
) -> None:
    # A visual run as services.visual.search stores it (query pin, crop box, cosine scores).
    store, _ = runs_store
    results = pl.DataFrame({"query": ["p00001 crop"] * 2, "rank": [1, 2],
                            "pin": ["p00005", "p00009"], "score": [0.91, 0.75]})  # fmt: skip
    copy, run_id = copy_with_run(
        store, tmp_path, kind="visual", algorithm="visual:builtin", seed=None, steps=None,
        params={"embedding": "builtin", "k": 2, "where": {}, "exclude_duplicates": False},
        query={"pin": "p00001", "crop": [10, 20, 40, 40]}, results=results,
    )  # fmt: skip
    e = explain(copy, ExplainRequest(run_id, "p00009"))
    assert e.method == "visual" and e.visual is not None
    assert math.isclose(e.visual.distance, 0.25) and e.visual.crop == (10, 20, 40, 40)
    assert e.visual.matched_region is None and any("did not store" in n for n in e.notes)
    assert [q.pin for q in e.by_query_pin] == ["p00001"] and e.via_boards == []


def test_crop_search_explanation_recomputes_the_matched_region(tmp_path: Path) -> None:
    # Coloured shapes on white (as in test_visual_service), indexed with regions.
    img = tmp_path / "img"
    img.mkdir()
    rows = ["pin,image"]
    shapes = [((220, 30, 30), (4, 4)), ((30, 180, 60), (26, 26)), ((220, 30, 30), (26, 4)),
              ((30, 60, 220), (4, 26))]  # fmt: skip
    for n, (rgb, xy) in enumerate(shapes):
        im = Image.new("RGB", (64, 64), "white")
        ImageDraw.Draw(im).rectangle([xy[0], xy[1], xy[0] + 30, xy[1] + 30], fill=rgb)
        im.save(img / f"s{n}.png")
        rows.append(f"s{n},img/s{n}.png")
    write(tmp_path / "pins.csv", "\n".join(rows) + "\n")
    write(tmp_path / "edges.csv", "board,pin\nb1,s0\nb1,s1\nb2,s2\nb2,s3\n")
    store = Store(tmp_path / "wb.duckdb")
    load_dataset(store, [tmp_path / "pins.csv", tmp_path / "edges.csv"], "shapes")
    visual.index(store, IndexRequest("shapes"))
    run = visual.search(store, SearchRequest("shapes", pin="s0", crop=(0, 0, 40, 40), k=4))
    for pin, score in zip(run.results["pin"], run.results["score"], strict=True):
        e = explain(store, ExplainRequest(run.run_id, pin))
        assert e.visual is not None and e.visual.crop == (0, 0, 40, 40)
        assert e.visual.matched_region is not None, e.notes
        x, y, w, h = e.visual.matched_region
        assert min(x, y) >= 0 and min(w, h) > 0 and max(x + w, y + h) <= 64
        # A crop on a plain white frame shows an object: its term is part of the score.
        v = e.visual
        recomputed = v.similarity + (v.object_weight or 0.0) * (v.object_cosine or 0.0)
        assert recomputed == pytest.approx(score, abs=1e-4) and "recomputed" in e.notes[0]
    own = explain(store, ExplainRequest(run.run_id, "s0")).visual
    assert own is not None and own.matched_region is not None
    x, y, w, h = own.matched_region  # the source image's best region overlaps the crop itself
    overlap = max(0, min(x + w, 40) - x) * max(0, min(y + h, 40) - y)
    assert overlap / (w * h + 40 * 40 - overlap) > 0.4


def test_batch_rankings_are_explained_per_board(
    runs_store: tuple[Store, dict[str, int]], tmp_path: Path
) -> None:
    store, _ = runs_store
    copy = Store(tmp_path / "copy.duckdb")
    shutil.copy(store.path, copy.path)
    for algo, params in (("pixie", {"steps": "3000"}), ("rp3beta", {})):
        out = tmp_path / f"{algo}.parquet"
        report = batch.batch(copy, BatchRequest("sample", str(out), algo, params, k=5, seed=3))
        lists = pl.read_parquet(out)
        for board in ("b0000", "b0150", "b0299"):
            rows = lists.filter(pl.col("board") == board)
            for pin, score in zip(rows["pin"], rows["score"], strict=True):
                e = explain(copy, ExplainRequest(report.run_id, pin, top=3, board=board))
                assert e.score == score and e.board == board
                total = sum(q.visits for q in e.by_query_pin)
                assert math.isclose(total, e.total if e.method == "walk" else score, rel_tol=1e-9)
                check_shares(e)
        with pytest.raises(WorkbenchError, match="name the board"):
            explain(copy, ExplainRequest(report.run_id, rows["pin"][0]))
    chosen = write(tmp_path / "boards.txt", "b0002\nb0001\n")
    out = tmp_path / "chosen.parquet"
    run = batch.batch(copy, BatchRequest("sample", str(out), "pixie", {"steps": "500"},
                                         boards=str(chosen), k=3))  # fmt: skip
    pin = pl.read_parquet(out).filter(pl.col("board") == "b0001")["pin"][0]
    with pytest.raises(WorkbenchError, match=r"order .* is not stored"):
        explain(copy, ExplainRequest(run.run_id, pin, board="b0001"))


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_fusion_scores_split_over_the_fused_runs(
    runs_store: tuple[Store, dict[str, int]], tmp_path: Path, method: str
) -> None:
    store, runs = runs_store
    copy = Store(tmp_path / "copy.duckdb")
    shutil.copy(store.path, copy.path)
    fused = visual.fuse(copy, FuseRequest((runs["pixie"], runs["rp3beta"]), method,
                                          weights=(0.7, 0.3), k=10))  # fmt: skip
    for pin, score in zip(fused.results["pin"], fused.results["score"], strict=True):
        e = explain(copy, ExplainRequest(fused.run_id, pin))
        assert e.method == "fusion"
        assert [r.run_id for r in e.by_run] == [runs["pixie"], runs["rp3beta"]]
        assert math.isclose(sum(r.contribution for r in e.by_run), score, rel_tol=1e-9)
        assert math.isclose(sum(r.share for r in e.by_run), 1.0, rel_tol=1e-9)
        for part in e.by_run:
            listed = dict(ranked(copy, part.run_id))
            assert (part.rank is None) == (pin not in listed)
            assert part.score is None or part.score == listed[pin]
    text = CliRunner().invoke(main, ["explain", str(fused.run_id), "--pin", pin, "--db",
                                     str(copy.path)])  # fmt: skip
    assert text.exit_code == 0 and "from run" in text.stdout


# -- the CLI --------------------------------------------------------------------------------------


def test_cli_json_shape_and_text_width(
    runs_store: tuple[Store, dict[str, int]], tmp_path: Path
) -> None:
    store, runs = runs_store
    db = str(store.path)
    for label in ("pixie", "rp3beta"):
        pin, score = ranked(store, runs[label])[1]
        args = ["explain", str(runs[label]), "--pin", pin, "--top", "3", "--db", db]
        result = CliRunner().invoke(main, [*args, "--json"])
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert {"run_id", "pin", "score", "algorithm", "by_query_pin", "via_boards", "degree",
                "popularity_rank"} <= set(doc)  # fmt: skip
        assert doc["run_id"] == runs[label] and doc["pin"] == pin and doc["score"] == score
        assert doc["algorithm"] == label
        for key, id_key in (("by_query_pin", "pin"), ("via_boards", "board")):
            assert {id_key, "visits", "share"} <= set(doc[key][0])
            assert math.isclose(sum(r["share"] for r in doc[key]), 1.0, rel_tol=1e-9)
        text = CliRunner().invoke(main, args)
        assert text.exit_code == 0, text.stderr
        lines = text.stdout.splitlines()
        assert all(len(line) <= 80 for line in lines)
        assert lines[0].startswith(f"pin {pin}") and "popularity:" in text.stdout
    missing = CliRunner().invoke(main, ["explain", "4242", "--pin", "p1", "--db", db])
    assert missing.exit_code == 2
    assert missing.stderr.strip().startswith("error: unknown run 4242")
    assert len(missing.stderr.strip().splitlines()) == 1


# -- crop searches with an object -----------------------------------------------------------------


def _cut_out(seed: int) -> Image.Image:
    """A transparent object: a disc with a few coloured rectangles on it, nothing around."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    draw.ellipse([6, 6, 58, 58], fill=(*(int(v) for v in rng.integers(0, 256, 3)), 255))
    for _ in range(3):
        x0, y0 = (int(v) for v in rng.integers(14, 40, 2))
        draw.rectangle([x0, y0, x0 + int(rng.integers(6, 16)), y0 + int(rng.integers(6, 16))],
                       fill=(*(int(v) for v in rng.integers(0, 256, 3)), 255))  # fmt: skip
    return im


@pytest.fixture(scope="module")
def object_scenes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path, dict]:
    """Ten 128x96 scenes (gradient and noise) with one object pasted each (where: its pixel box),
    indexed; the object of scene s4 saved alone as a transparent PNG."""
    root = tmp_path_factory.mktemp("object_scenes")
    (root / "img").mkdir()
    rng = np.random.default_rng(7)
    t = np.linspace(0.0, 1.0, 128)[None, :, None]
    rows, where = ["pin,image"], {}
    for j in range(10):
        c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        bg = c0 * (1 - t) + c1 * t + rng.normal(0, 8, (96, 128, 3))
        im = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
        obj = _cut_out(j).resize((44, 44), Image.Resampling.BILINEAR)
        x, y = int(rng.integers(0, 128 - 44)), int(rng.integers(0, 96 - 44))
        im.paste(obj, (x, y), obj)
        im.save(root / "img" / f"s{j}.png")
        rows.append(f"s{j},img/s{j}.png")
        where[f"s{j}"] = (x, y, 44, 44)
    _cut_out(4).save(root / "object.png")
    write(root / "pins.csv", "\n".join(rows) + "\n")
    write(root / "edges.csv", "board,pin\n" + "".join(f"b{j % 3},s{j}\n" for j in range(10)))
    store = Store(root / "wb.duckdb")
    load_dataset(store, [root / "pins.csv", root / "edges.csv"], "scenes")
    visual.index(store, IndexRequest("scenes"))
    return store, root / "object.png", where


def test_object_crop_explanation_recomputes_the_score_with_the_object(
    object_scenes: tuple[Store, Path, dict],
) -> None:
    from workbench.engine.visual.foreground import BACKGROUND_WEIGHT
    from workbench.engine.visual.search import OBJECT_WEIGHT

    store, obj, where = object_scenes
    run = visual.search(store, SearchRequest("scenes", image=str(obj), crop=(0, 0, 64, 64), k=5))
    assert run.params["background"] == BACKGROUND_WEIGHT and run.params["objects"] == OBJECT_WEIGHT
    assert get_run(store, run.run_id).params == run.params  # stored as made
    assert run.results["pin"][0] == "s4"
    for pin, score in zip(run.results["pin"], run.results["score"], strict=True):
        e = explain(store, ExplainRequest(run.run_id, pin))
        v = e.visual
        assert v is not None and v.matched_region is not None, e.notes
        assert v.object_cosine is not None and v.object_weight == OBJECT_WEIGHT, e.notes
        assert e.score == score
        assert v.similarity + OBJECT_WEIGHT * v.object_cosine == pytest.approx(score, abs=1e-4)
        assert math.isclose(v.distance, 1.0 - v.similarity)
        assert v.object_box is not None
        x, y, w, h = v.object_box
        assert min(x, y) >= 0 and min(w, h) > 0 and x + w <= 128 and y + h <= 96
        assert "shows an object" in e.notes[0]
    top = explain(store, ExplainRequest(run.run_id, "s4")).visual
    assert top is not None and top.object_box is not None and top.object_cosine is not None
    assert top.object_cosine > 0.9
    x, y, w, h = top.object_box  # the proposal found lies on the pasted object
    px, py, pw, ph = where["s4"]
    overlap = max(0, min(x + w, px + pw) - max(x, px)) * max(0, min(y + h, py + ph) - max(y, py))
    assert overlap / (w * h + pw * ph - overlap) > 0.4
    # The CLI shows the parts: JSON fields and a text line.
    args = ["explain", str(run.run_id), "--pin", "s4", "--db", str(store.path)]
    doc = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)["visual"]
    assert doc["object_box"] == list(top.object_box) and doc["object_weight"] == OBJECT_WEIGHT
    assert doc["object_cosine"] == top.object_cosine and doc["similarity"] == top.similarity
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0 and all(len(line) <= 80 for line in text.stdout.splitlines())
    assert f"matched object {','.join(map(str, top.object_box))}" in text.stdout


def test_a_crop_run_stored_before_object_scores_explains_by_regions_only(
    object_scenes: tuple[Store, Path, dict],
) -> None:
    from workbench.engine.visual.search import search_crop
    from workbench.engine.visual.service import dataset_version, open_dataset_space

    store, obj, _ = object_scenes
    # As visual.search stored a crop run before objects were weighed: no "objects" (nor
    # "background") parameter, region-only scores.
    space = open_dataset_space(store, dataset_version(store, "scenes"), "builtin")
    found = search_crop(space, (0, 0, 64, 64), path=obj, k=4, objects=None)
    results = pl.DataFrame({"query": ["object.png crop"] * len(found), "rank": [1, 2, 3, 4],
                            "pin": found.ids, "score": found.scores})  # fmt: skip
    old = {"embedding": "builtin", "k": 4, "where": {}, "exclude_duplicates": False}
    run_id = save_run(
        store, dataset="scenes", kind="visual", algorithm="visual:builtin", params=old, seed=None,
        fingerprint=store.dataset("scenes").fingerprint, results=results,
        query={"image": str(obj), "crop": [0, 0, 64, 64]},
    )  # fmt: skip
    for pin, score in zip(found.ids, found.scores, strict=True):
        e = explain(store, ExplainRequest(run_id, pin))
        v = e.visual
        assert v is not None and v.matched_region is not None, e.notes
        assert v.similarity == pytest.approx(score, abs=1e-4)
        assert v.object_cosine is None and v.object_box is None and v.object_weight is None
        assert "best-matching region: region" in e.notes[0]
    # The same old-style parameters on object scores do not reproduce: said, not hidden.
    fused = search_crop(space, (0, 0, 64, 64), path=obj, k=1)
    mixed = save_run(
        store, dataset="scenes", kind="visual", algorithm="visual:builtin", params=old, seed=None,
        fingerprint=store.dataset("scenes").fingerprint,
        results=results.head(1).with_columns(pl.lit(fused.ids[0]).alias("pin"),
                                             pl.lit(fused.scores[0]).alias("score")),
        query={"image": str(obj), "crop": [0, 0, 64, 64]},
    )  # fmt: skip
    e = explain(store, ExplainRequest(mixed, fused.ids[0]))
    assert e.visual is not None and e.visual.matched_region is None
    assert any("now scores" in n for n in e.notes)


def test_a_space_without_object_proposals_records_and_explains_regions_only(
    object_scenes: tuple[Store, Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.engine.visual.search import VisualSpace

    store, obj, _ = object_scenes
    opened = visual.open_dataset_space

    def without_objects(*args: Any) -> VisualSpace:
        space = opened(*args)
        space.objects = None  # as a space indexed before object proposals existed
        return space

    monkeypatch.setattr(visual, "open_dataset_space", without_objects)
    run = visual.search(store, SearchRequest("scenes", image=str(obj), crop=(0, 0, 64, 64), k=3))
    monkeypatch.undo()
    assert run.params["objects"] is None and run.params["background"] is not None
    for pin, score in zip(run.results["pin"], run.results["score"], strict=True):
        v = explain(store, ExplainRequest(run.run_id, pin)).visual
        assert v is not None and v.matched_region is not None and v.object_cosine is None
        assert v.similarity == pytest.approx(score, abs=1e-4)
