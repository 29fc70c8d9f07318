"""Baselines against dense numpy references, the shared interface, queries and parameter parsing."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.errors import WorkbenchError
from workbench.engine.graph import NO_TIME, Graph
from workbench.engine.recommenders import (
    ALGORITHMS,
    Query,
    board_query,
    create,
    param_fields,
    params_dict,
    parse_params,
)
from workbench.engine.recommenders.similarity import ItemSimilarity
from workbench.engine.walks import query_seed, step_budget


def weighted_graph(
    n_pins: int = 25, n_boards: int = 40, density: float = 0.2, seed: int = 3
) -> Graph:
    """Random edges with continuous weights (no ties between similarities)."""
    rng = np.random.default_rng(seed)
    m = rng.random((n_boards, n_pins)) < density
    m[np.arange(n_boards), rng.integers(0, n_pins, n_boards)] = True
    boards, pins = np.nonzero(m)
    weights = rng.uniform(0.5, 3.0, boards.size)
    times = rng.integers(0, 10**12, boards.size)
    return Graph.from_edges(n_pins, n_boards, boards, pins, weights=weights, times=times)


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest positive values (ties: lower index), by a full sort."""
    order = np.lexsort((np.arange(values.size), -values))[:k]
    return order[values[order] > 0]


def rows_top_k(w: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(w)
    for i in range(w.shape[0]):
        keep = top_k(w[i], k)
        out[i, keep] = w[i, keep]
    return out


def l1_rows(w: np.ndarray) -> np.ndarray:
    sums = w.sum(axis=1, keepdims=True)
    return np.divide(w, sums, out=np.zeros_like(w), where=sums > 0)


def reference_rp3(x: np.ndarray, alpha: float, beta: float, k: int, normalize: bool) -> np.ndarray:
    """Ferrari Dacrema et al.'s RP3betaRecommender.fit on a dense boards x pins matrix
    (beta = 0 is their P3alphaRecommender)."""
    pui = l1_rows(x)
    piu = l1_rows((x > 0).T.astype(float))
    pui = np.where(pui > 0, pui**alpha, 0.0)
    piu = np.where(piu > 0, piu**alpha, 0.0)
    pop = (x > 0).sum(axis=0).astype(float)
    w = (piu @ pui) * np.where(pop > 0, pop ** -np.float64(beta), 0.0)[None, :]
    np.fill_diagonal(w, 0.0)
    w = rows_top_k(w, k)
    if normalize:
        w = l1_rows(w)
    return rows_top_k(w.T, k).T  # similarityMatrixTopK: column-wise


@pytest.mark.parametrize(
    ("algo", "params", "beta"),
    [
        ("p3alpha", {"alpha": 1.0, "topk": 100, "normalize": False}, 0.0),
        ("p3alpha", {"alpha": 2.0, "topk": 4, "normalize": True}, 0.0),
        ("rp3beta", {"alpha": 0.8616, "beta": 0.4255, "topk": 5, "normalize": True}, None),
        ("rp3beta", {"alpha": 1.0, "beta": 0.6, "topk": 100, "normalize": False}, None),
    ],
)
def test_p3alpha_and_rp3beta_match_the_dense_reference(
    algo: str, params: dict[str, object], beta: float | None
) -> None:
    g = weighted_graph()
    x = g.interactions(weighted=True).toarray()
    b = params["beta"] if beta is None else beta
    expected = reference_rp3(x, params["alpha"], b, params["topk"], params["normalize"])  # type: ignore[arg-type]
    model = create(algo, {**params, "weighted": True}).fit(g)
    assert isinstance(model, ItemSimilarity)
    assert np.allclose(model.similarity.toarray(), expected, rtol=1e-10, atol=1e-14)
    # A board's scores are its profile times W.
    profile = x[7]
    query = Query(np.flatnonzero(profile), profile[profile > 0])
    everything = np.arange(g.n_pins, dtype=np.int32)
    assert np.allclose(model.score(query, everything), profile @ expected)
    ranking = model.recommend(query, 5)
    expected_scores = profile @ expected
    expected_scores[query.pins] = 0
    assert ranking.pins.tolist() == top_k(expected_scores, 5).tolist()


def test_p3alpha_binary_profile_uses_ones() -> None:
    g = weighted_graph()
    x = (g.interactions().toarray() > 0).astype(float)
    model = create("p3alpha", {"topk": 6}).fit(g)
    assert isinstance(model, ItemSimilarity)
    assert np.allclose(model.similarity.toarray(), reference_rp3(x, 1.0, 0.0, 6, False))


def test_itemknn_is_cosine_with_shrink_and_top_k_neighbours_per_target() -> None:
    g = weighted_graph()
    x = g.interactions(weighted=True).toarray()
    norm = np.sqrt((x**2).sum(axis=0))
    s = (x.T @ x) / (norm[:, None] * norm[None, :] + 5.0 + 1e-6)
    np.fill_diagonal(s, 0.0)
    expected = rows_top_k(s.T, 4).T  # column j keeps its 4 most similar pins
    model = create("itemknn", {"topk": 4, "shrink": 5, "weighted": True}).fit(g)
    assert isinstance(model, ItemSimilarity)
    assert np.allclose(model.similarity.toarray(), expected, rtol=1e-12)


def test_ppr_restarts_in_proportion_to_the_walk_step_budgets() -> None:
    g = weighted_graph()
    pins, weights, alpha = np.array([2, 9], np.int32), np.array([1.0, 3.0]), 0.4
    budget = np.zeros(2, np.int64)
    degree = g.pin_degree.astype(np.int64)
    step_budget(pins, weights, degree, 1 << 40, float(degree.max()), budget, False)
    restart = np.zeros(g.n_pins)
    restart[pins] = budget / budget.sum()
    a = g.interactions().toarray()
    p = (a.T / np.maximum(g.pin_degree, 1)[:, None]) @ (a / g.board_degree[:, None])
    exact = alpha * np.linalg.solve((np.eye(g.n_pins) - (1 - alpha) * p).T, restart)
    model = create("ppr", {"alpha": alpha, "tol": 1e-14}).fit(g)
    r = model.recommend(Query(pins, weights, exclude=[]), g.n_pins)
    assert r.steps > 10
    got = np.zeros(g.n_pins)
    got[r.pins] = r.scores
    assert np.allclose(got, exact, atol=1e-12)


def test_popular_ranks_by_degree_then_id_without_the_query_pins() -> None:
    g = weighted_graph()
    ranking = create("popular").fit(g).recommend(Query([0, 1]), 8)
    degree = g.pin_degree.astype(float)
    degree[[0, 1]] = 0
    assert ranking.pins.tolist() == top_k(degree, 8).tolist()
    assert ranking.scores.tolist() == degree[ranking.pins].tolist()


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_every_algorithm_answers_batches_like_single_queries(algo: str) -> None:
    g = weighted_graph()
    model = create(algo, {"steps": "2000"} if algo == "pixie" else {}).fit(g)
    queries = [Query([i, i + 3]) for i in range(5)]
    cands = [np.array([i + 5, i + 6, 0], dtype=np.int32) for i in range(5)]
    rankings, scores = model.run_batch(queries, 6, cands, seed=3, start=2)
    for i, q in enumerate(queries):
        single = model.recommend(q, 6, seed=query_seed(3, 2 + i))
        assert single.pins.tolist() == rankings[i].pins.tolist()
        assert np.array_equal(single.scores, rankings[i].scores)
        assert scores[i].shape == (3,) and np.all(scores[i] >= 0)
        known = dict(zip(rankings[i].pins.tolist(), rankings[i].scores, strict=True))
        for pin, score in zip(cands[i].tolist(), scores[i], strict=True):
            if pin in known:
                assert known[pin] == score
    with pytest.raises(WorkbenchError, match="query pin 99 is not in the graph"):
        model.recommend(Query([99]))
    with pytest.raises(WorkbenchError, match="fit"):
        create(algo).recommend(Query([1]))


def test_board_queries_weight_by_recency_and_exclude_the_board() -> None:
    g = weighted_graph()
    board = 5
    pins = g.pins_of(board)
    assert pins.size >= 3
    q = board_query(g, board)
    assert q.pins.tolist() == pins.tolist() and q.weights.tolist() == [1.0] * pins.size
    assert q.board == board and q.exclude.tolist() == pins.tolist()
    lo = g.board_indptr[board]
    times = g.board_times[lo : lo + pins.size]  # type: ignore[index]
    recent = board_query(g, board, "recency", half_life_days=2.0)
    age = (times.max() - times) / 86_400e6
    assert np.allclose(recent.weights, np.exp2(-age / 2.0)) and recent.weights.max() == 1.0
    newest = board_query(g, board, "recency", max_pins=2, exclude_board=False)
    assert sorted(newest.pins.tolist()) == sorted(pins[np.argsort(-times)[:2]].tolist())
    assert newest.exclude.tolist() == newest.pins.tolist()
    assert board_query(g, board, "recency", max_pins=2).exclude.tolist() == pins.tolist()
    edge = board_query(g, board, "edge")
    assert edge.weights.tolist() == g.board_weights[lo : lo + pins.size].tolist()  # type: ignore[index]
    untimed = Graph.from_edges(g.n_pins, g.n_boards, *g.edges(), times=np.full(g.n_edges, NO_TIME))
    assert board_query(untimed, board, "recency").weights.tolist() == [1.0] * pins.size
    with pytest.raises(WorkbenchError, match="no timestamps"):
        board_query(Graph.from_edges(g.n_pins, g.n_boards, *g.edges()), board, "recency")
    with pytest.raises(WorkbenchError, match="board 99 is not in the graph"):
        board_query(g, 99)
    with pytest.raises(WorkbenchError, match="weights must be finite numbers > 0"):
        Query([1, 2], [1.0, 0.0])


def test_params_parse_strings_and_reject_bad_values_in_one_line() -> None:
    p = parse_params(
        "pixie", {"steps": "2e5", "alpha": "0.25", "boost": "no", "bias_side": "both", "n_p": 3}
    )
    assert (p.steps, p.alpha, p.boost, p.bias_side, p.n_p) == (200_000, 0.25, False, "both", 3)
    assert params_dict(p)["steps"] == 200_000 and params_dict(parse_params("popular")) == {}
    assert parse_params("rp3beta", {"topk": "1_000"}).topk == 1000
    for algo, values, message in [
        ("pixie", {"stepz": "1"}, "pixie: unknown parameter 'stepz' (parameters: steps, alpha"),
        ("pixie", {"alpha": "1.5"}, "pixie: parameter alpha=1.5 is out of range [0.001, 1.0]"),
        ("pixie", {"steps": "0"}, "pixie: parameter steps=0 is out of range"),
        ("pixie", {"steps": "1.5"}, "pixie: parameter steps='1.5': expected an integer"),
        ("pixie", {"boost": "maybe"}, "expected true or false"),
        ("pixie", {"bias_side": "left"}, "must be one of board, pin, both"),
        ("ppr", {"tol": "nan"}, "ppr: parameter tol='nan': expected a number"),
        ("popular", {"k": "1"}, "popular: unknown parameter 'k' (parameters: none)"),
        ("nope", {}, "unknown algorithm 'nope' (known: "),
    ]:
        with pytest.raises(WorkbenchError, match=None) as err:
            parse_params(algo, values)
        assert message in str(err.value) and "\n" not in str(err.value)


def test_every_parameter_documents_its_type_default_and_range() -> None:
    assert set(ALGORITHMS) == {
        "pixie",
        "pixie-dn",
        "popular",
        "itemknn",
        "p3alpha",
        "rp3beta",
        "ppr",
    }
    for algo, cls in ALGORITHMS.items():
        assert cls.name == algo and cls.description
        for f in param_fields(algo):
            assert f.help and f.type in (int, float, bool, str)
            assert isinstance(f.default, f.type)
            if f.type in (int, float):
                assert f.range is not None and f.range[0] <= float(f.default) <= f.range[1]
            assert parse_params(algo, {f.name: str(f.default)}) == cls.Params()
    steps = {f.name: f for f in param_fields("pixie")}["steps"]
    assert (steps.type, steps.default, steps.range) == (int, 100_000, (1, 1_000_000_000))


def test_run_info_reports_pixies_pruning_and_nothing_by_default() -> None:
    g = weighted_graph()
    assert create("popular").fit(g).run_info() == {}
    assert create("pixie").fit(g).run_info() == {}  # nothing pruned
    info = create("pixie", {"prune_delta": "0.5"}).fit(g).run_info()
    report = info["pruning"]
    assert report["edges_before"] == g.n_edges and report["edges_removed_by_degree"] > 0
    assert report["degree_order"] == "recency"  # the graph has timestamps, no topics
    assert create("pixie-dn").fit(g).run_info() == {}


def test_walk_parameters_allocation_and_credit_default_to_pixie_as_published() -> None:
    fields = {f.name: f for f in param_fields("pixie")}
    assert (fields["allocation"].default, fields["allocation"].choices) == (
        "paper",
        ("paper", "equal"),
    )
    credit = fields["credit"]
    assert (credit.default, credit.choices) == ("sample", ("sample", "expected"))
    p = parse_params("pixie-dn", {"allocation": "equal", "credit": "expected"})
    assert (p.allocation, p.credit) == ("equal", "expected")
    with pytest.raises(WorkbenchError, match="credit='mean' must be one of sample, expected"):
        parse_params("pixie", {"credit": "mean"})
