"""Pixie walks: convergence to exact PPR, step budgets, boosting, early stopping, bias, exclusion,
reproducibility across seeds, batches and thread counts, and the shared top-k ranking."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy.stats import spearmanr

from workbench.engine import walks
from workbench.engine.errors import WorkbenchError
from workbench.engine.graph import Attribute, Graph
from workbench.engine.recommenders import Query, Recommender, create


def random_graph(
    n_pins: int = 30, n_boards: int = 12, per_board: int = 6, seed: int = 1, topics: int = 0
) -> Graph:
    """A connected random bipartite graph: board b holds pin b and ``per_board - 1`` others."""
    rng = np.random.default_rng(seed)
    edges = set()
    for b in range(n_boards):
        edges.add((b, b % n_pins))
        edges |= {(b, int(p)) for p in rng.choice(n_pins, per_board - 1, replace=False)}
    for p in range(n_pins):  # every pin on at least one board
        edges.add((int(rng.integers(n_boards)), p))
    boards, pins = np.array(sorted(edges)).T
    attrs = {}
    if topics:
        values = tuple("abcdefgh"[:topics])
        attrs["topic"] = Attribute(rng.integers(0, topics, n_pins).astype(np.int32), values)
    return Graph.from_edges(n_pins, n_boards, boards, pins, pin_attributes=attrs)


def exact_ppr(g: Graph, restart: np.ndarray, alpha: float) -> np.ndarray:
    """x = alpha r + (1 - alpha) x P on the pin->board->pin chain, by a dense linear solve."""
    a = g.interactions().toarray()  # boards x pins
    p = (a.T / g.pin_degree[:, None]) @ (a / g.board_degree[:, None])
    return alpha * np.linalg.solve((np.eye(g.n_pins) - (1 - alpha) * p).T, restart)


def visits(model: Recommender, pins: list[int], seed: int = 0, **query: object) -> np.ndarray:
    """Dense scores over all pins (query pins included unless excluded)."""
    q = Query(pins, exclude=query.get("exclude", []), weights=query.get("weights"))  # type: ignore[arg-type]
    r = model.recommend(q, model.graph.n_pins, seed)
    out = np.zeros(model.graph.n_pins)
    out[r.pins] = r.scores
    return out


def test_walk_visits_converge_to_exact_personalised_pagerank() -> None:
    g = random_graph()
    q, alpha = 3, 0.3
    restart = np.zeros(g.n_pins)
    restart[q] = 1.0
    exact = exact_ppr(g, restart, alpha)
    others = np.arange(g.n_pins) != q
    target = exact[others] / exact[others].sum()
    l1, rho = [], []
    for steps in (1_000, 10_000, 100_000, 1_000_000):
        model = create("pixie", {"steps": steps, "alpha": alpha}).fit(g)
        v = visits(model, [q])[others]
        l1.append(np.abs(v / v.sum() - target).sum())
        rho.append(spearmanr(v, target).statistic)
    assert l1 == sorted(l1, reverse=True) and l1[-1] < 0.01
    assert rho[-1] > 0.99 and rho[-1] >= rho[0]
    # The exact recommender agrees with the dense solve.
    ppr = create("ppr", {"alpha": alpha, "tol": 1e-13}).fit(g)
    r = ppr.recommend(Query([q], exclude=[]), g.n_pins)
    dense = np.zeros(g.n_pins)
    dense[r.pins] = r.scores
    assert np.allclose(dense, exact, atol=1e-10)


def test_step_budget_follows_the_papers_shares_and_adds_up_to_the_steps() -> None:
    degree = np.array([0, 1, 5, 40, 7], dtype=np.int64)
    pins = np.array([1, 2, 3, 0, 4], dtype=np.int32)
    weights = np.array([1.0, 2.0, 0.5, 1.0, 1.0])
    c = float(degree.max())
    d = degree[pins].astype(float)
    s = np.where(d > 0, d * (c - np.log(np.maximum(d, 1))), 0.0)
    for w in (np.ones(5), weights):
        out = np.zeros(pins.size, dtype=np.int64)
        walks.step_budget(pins, w, degree, 100_000, c, out, False)
        exact = 100_000 * w * s / (w * s).sum()
        assert out.sum() == 100_000  # exactly the steps asked for, whatever the weights
        assert np.all(np.abs(out - exact) < 1) and np.all(out >= np.floor(exact))
        assert out[3] == 0  # a pin without boards gets no steps
    # All weights 1: the paper's N_q = N s_q / sum_r s_r (rounded down, remainders handed out).
    out = np.zeros(pins.size, dtype=np.int64)
    walks.step_budget(pins, np.ones(5), degree, 100_000, c, out, False)
    assert np.all(out - np.floor(100_000 * s / s.sum()) <= 1)
    one = np.zeros(1, dtype=np.int64)
    walks.step_budget(pins[:1], np.ones(1), degree, 12_345, c, one, False)
    assert one[0] == 12_345
    none = np.ones(1, dtype=np.int64)
    walks.step_budget(pins[3:4], np.ones(1), degree, 100, c, none, False)
    assert none[0] == 0


def test_equal_allocation_splits_the_steps_equally() -> None:
    degree = np.array([0, 1, 5, 40, 7], dtype=np.int64)
    pins = np.array([1, 2, 3, 0, 4], dtype=np.int32)
    out = np.zeros(pins.size, dtype=np.int64)
    walks.step_budget(pins, np.ones(5), degree, 100_000, 40.0, out, True)
    assert out.tolist() == [25_000, 25_000, 25_000, 0, 25_000]  # pin 0 has no boards
    walks.step_budget(pins, np.ones(5), degree, 10, 40.0, out, True)
    assert out.tolist() == [3, 3, 2, 0, 2]  # remainders to the earlier pins
    walks.step_budget(pins, np.array([1.0, 3.0, 1.0, 1.0, 1.0]), degree, 600, 40.0, out, True)
    assert out.tolist() == [100, 300, 100, 0, 100]  # in proportion to the weights
    # Through the recommender: a query's walks take exactly `steps`, split as asked.
    g = random_graph()
    q = Query([0, 5, 9], weights=[1.0, 2.0, 4.0])
    for allocation in ("paper", "equal"):
        model = create("pixie", {"steps": 9_999, "allocation": allocation}).fit(g)
        assert model.recommend(q).steps == 9_999
    equal = create("pixie", {"steps": 9_000, "allocation": "equal", "boost": False}).fit(g)
    r = equal.recommend(Query([0, 5, 9], exclude=[]), g.n_pins)
    assert r.steps == 9_000 and r.scores.sum() == 9_000
    with pytest.raises(WorkbenchError, match="allocation='even' must be one of paper, equal"):
        create("pixie", {"allocation": "even"})


def test_multi_hit_boosting_combines_per_pin_walks() -> None:
    g = random_graph()
    wg = walks.walk_graph(g)
    pins = np.array([2, 9], dtype=np.int32)
    weights = np.ones(2)
    n = g.n_pins
    seed = np.uint64(42)
    # The per-pin walks, replayed with the generator state carried from one pin to the next.
    budget = np.zeros(2, dtype=np.int64)
    walks.step_budget(pins, weights, wg.pin_degree, 5000, wg.max_degree, budget, False)
    wp = walks.walk_params(5000, 0.4, boost=True)
    state = np.uint64(walks._mix64(seed))
    per_pin = []
    for q, budget_q in zip(pins, budget, strict=True):
        counts, touched = np.zeros(n, np.int32), np.zeros(n + 1, np.int32)
        no_boards = np.zeros(0, np.int32)
        _, _, _, out = walks._walk_pin(
            q, int(budget_q), state, -1, wg, wp, counts, touched, no_boards, no_boards
        )
        state = np.uint64(out)
        per_pin.append(counts.astype(float))
    for boost, expected in (
        (True, (np.sqrt(per_pin[0]) + np.sqrt(per_pin[1])) ** 2),
        (False, per_pin[0] + per_pin[1]),
    ):
        acc, acc_touched = np.zeros(n), np.zeros(n + 1, np.int32)
        taken, m = walks.pixie_scores(
            pins,
            weights,
            seed,
            -1,
            wg,
            walks.walk_params(5000, 0.4, boost=boost),
            np.zeros(n, np.int32),
            np.zeros(n + 1, np.int32),
            acc,
            acc_touched,
            np.zeros(0),
            np.zeros(0, np.int32),
            np.zeros(0, np.int32),
        )
        assert taken == budget.sum() and m == (expected > 0).sum()
        assert np.allclose(acc, expected)
    # Through the recommender: boosting changes the scores, not the walks.
    boosted = visits(create("pixie", {"steps": 5000, "alpha": 0.4}).fit(g), [2, 9], 7)
    plain = visits(create("pixie", {"steps": 5000, "alpha": 0.4, "boost": False}).fit(g), [2, 9], 7)
    assert (boosted > 0).tolist() == (plain > 0).tolist() and not np.allclose(boosted, plain)


def test_early_stopping_stops_once_n_p_pins_have_n_v_visits() -> None:
    g = random_graph()
    model = create("pixie", {"steps": 200_000, "n_p": 5, "n_v": 20, "boost": False}).fit(g)
    r = model.recommend(Query([4], exclude=[]), g.n_pins)
    assert r.steps < 200_000 and r.steps % walks.WALKERS == 0
    assert r.scores.sum() == r.steps  # one visit per step, query pin included
    assert (r.scores >= 20).sum() >= 5
    assert create("pixie", {"steps": 5000}).fit(g).recommend(Query([4])).steps == 5000


def test_degree_normalised_variant_divides_by_degree_power() -> None:
    g = random_graph()
    plain = visits(create("pixie", {"steps": 20_000}).fit(g), [0], 3)
    variant = visits(create("pixie", {"steps": 20_000, "degree_beta": 0.7}).fit(g), [0], 3)
    assert np.allclose(variant, plain / g.pin_degree**0.7)


def test_biased_walks_prefer_boards_of_the_query_topic() -> None:
    # Pin 0 (topic a) is on board 0 with a-pins 1, 2 and on board 1 with b-pins 3, 4.
    topic = Attribute(np.array([0, 0, 0, 1, 1], np.int32), ("a", "b"))
    boards, pins = np.array([(0, 0), (0, 1), (0, 2), (1, 0), (1, 3), (1, 4)]).T
    g = Graph.from_edges(5, 2, boards, pins, pin_attributes={"topic": topic})
    params = {"steps": 20_000, "alpha": 1.0}
    free = visits(create("pixie", params).fit(g), [0])
    biased = visits(create("pixie", params | {"bias": 1.0}).fit(g), [0])
    half = visits(create("pixie", params | {"bias": 0.5}).fit(g), [0])
    assert free[3] > 0.2 * free[1] and biased[3] == biased[4] == 0 and biased[1] > 0
    assert 0 < half[3] < free[3]
    towards_b = visits(create("pixie", params | {"bias": 1.0, "bias_value": "b"}).fit(g), [0])
    assert towards_b[1] == towards_b[2] == 0 and towards_b[3] > 0
    # Pin-side bias: at board 1, only the pins of the query's topic (pin 0 itself).
    pin_side = visits(create("pixie", params | {"bias": 1.0, "bias_side": "pin"}).fit(g), [0])
    assert pin_side[3] == pin_side[4] == 0 and pin_side[1] > 0
    # A query pin without a topic walks unbiased (the same walk, draw for draw).
    unknown = Attribute(np.array([-1, 0, 0, 1, 1], np.int32), ("a", "b"))
    g2 = Graph.from_edges(5, 2, boards, pins, pin_attributes={"topic": unknown})
    assert np.array_equal(visits(create("pixie", params | {"bias": 1.0}).fit(g2), [0]), free)
    with pytest.raises(WorkbenchError, match="no pin has topic = 'z'"):
        create("pixie", params | {"bias": 1.0, "bias_value": "z"}).fit(g)


def test_query_and_excluded_pins_are_never_ranked() -> None:
    g = random_graph()
    model = create("pixie", {"steps": 20_000}).fit(g)
    r = model.recommend(Query([1, 2]), g.n_pins)
    assert not {1, 2} & set(r.pins.tolist()) and r.pins.size > 0
    r = model.recommend(Query([1, 2], exclude=[1, 2, 5, 6]), g.n_pins)
    assert not {1, 2, 5, 6} & set(r.pins.tolist())
    assert np.all(np.diff(r.scores) <= 0)
    lonely = Graph.from_edges(3, 1, np.array([0]), np.array([0]))
    assert create("pixie").fit(lonely).recommend(Query([2])).pins.size == 0  # no boards, no walk


def test_rankings_are_reproducible_across_seeds_batches_and_threads() -> None:
    g = random_graph(n_pins=60, n_boards=20)
    model = create("pixie", {"steps": 3000}).fit(g)
    queries = [Query([i, (i * 7) % 60], weights=[1.0, 0.5]) for i in range(9)]
    a = model.recommend(queries[0], 20, seed=5)
    b = model.recommend(queries[0], 20, seed=5)
    c = model.recommend(queries[0], 20, seed=6)
    assert np.array_equal(a.scores, b.scores) and np.array_equal(a.pins, b.pins)
    assert not np.array_equal(a.scores, c.scores)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = model.recommend_batch(queries, 20, seed=11)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        many = model.recommend_batch(queries, 20, seed=11)
    finally:
        numba.set_num_threads(threads)
    chunked = model.recommend_batch(queries[:4], 20, 11) + model.recommend_batch(
        queries[4:], 20, 11, start=4
    )
    for i, q in enumerate(queries):
        single = model.recommend(q, 20, walks.query_seed(11, i))
        for other in (many[i], chunked[i], single):
            assert np.array_equal(one[i].pins, other.pins)
            assert np.array_equal(one[i].scores, other.scores)
            assert one[i].steps == other.steps
    # Candidate scores come from the same walk as the ranking.
    cands = [np.arange(60, dtype=np.int32)] * len(queries)
    rankings, scores = model.run_batch(queries, 20, cands, seed=11)
    assert np.array_equal(scores[3][rankings[3].pins], rankings[3].scores)
    assert np.array_equal(model.score_batch(queries, cands, 11)[3], scores[3])


def test_query_seeds_match_query_seed() -> None:
    seeds = walks.query_seeds(-3, 5, 4)
    assert seeds.dtype == np.uint64
    assert [int(s) for s in seeds] == [walks.query_seed(-3, 5 + i) for i in range(4)]
    assert walks.query_seed(9, 0) == 9


def test_rank_into_orders_by_score_then_pin_and_skips_excluded_and_zero() -> None:
    scores = np.array([0.0, 3.0, 1.0, 3.0, 2.0, 5.0, 0.5])
    pool = np.array([6, 5, 4, 3, 2, 1, 0], dtype=np.int32)
    mask = np.zeros(7, dtype=bool)
    cands = np.array([0, 5], dtype=np.int32)
    for k, excluded, expected in ((3, [], [5, 1, 3]), (10, [5], [1, 3, 4, 2, 6]), (0, [], [])):
        out_p, out_s, out_c = np.full(k, -1, np.int32), np.zeros(k), np.zeros(2)
        n = walks.rank_into(
            scores, pool, 7, np.array(excluded, np.int32), mask, out_p, out_s, cands, out_c
        )
        assert out_p[:n].tolist() == expected and out_s[:n].tolist() == scores[expected].tolist()
        assert out_c.tolist() == [0.0, 5.0] and not mask.any()


def expected_visits(g: Graph, q: int, steps: int, alpha: float) -> np.ndarray:
    """E[visits] of Pixie's walks from ``q`` by iterating the chain's distribution: walker ``w``
    of ``walks.WALKERS`` takes the steps ``t`` with ``t * WALKERS + w < steps``, each one a
    restart with probability ``alpha`` then pin -> board -> pin."""
    a = g.interactions().toarray()
    p = (a.T / g.pin_degree[:, None]) @ (a / g.board_degree[:, None])
    x = np.zeros(g.n_pins)
    x[q] = 1.0
    e_q = x.copy()
    total = np.zeros(g.n_pins)
    rounds = -(-steps // walks.WALKERS)
    for t in range(rounds):
        x = (alpha * e_q + (1 - alpha) * x) @ p
        total += x * min(walks.WALKERS, steps - t * walks.WALKERS)
    return total


def test_expected_credit_matches_the_exact_expectation_with_less_variance() -> None:
    g = random_graph()
    q, alpha, steps, runs = 3, 0.3, 3_200, 300
    exact = expected_visits(g, q, steps, alpha)
    assert np.isclose(exact.sum(), steps)
    by_credit = {}
    for credit in ("sample", "expected"):
        model = create(
            "pixie", {"steps": steps, "alpha": alpha, "boost": False, "credit": credit}
        ).fit(g)
        runs_v = np.array([visits(model, [q], seed, exclude=[]) for seed in range(runs)])
        assert np.allclose(runs_v.sum(axis=1), steps)  # one unit of credit per step
        by_credit[credit] = runs_v
    sample, expected = by_credit["sample"], by_credit["expected"]
    # Both are unbiased: their means agree with the exact expectation.
    for v in (sample, expected):
        assert np.abs(v.mean(axis=0) - exact).sum() / steps < 0.02
    # Expected credit removes the board -> pin draw's variance.
    assert expected.var(axis=0).sum() < 0.5 * sample.var(axis=0).sum()
    assert np.abs(expected.mean(axis=0) - exact).sum() < np.abs(sample.mean(axis=0) - exact).sum()


def test_expected_credit_is_exact_for_a_fixed_board_and_follows_pin_side_bias() -> None:
    # Pin 0 (topic a) is on board 0 with a-pins 1, 2 and on board 1 with b-pins 3, 4.
    topic = Attribute(np.array([0, 0, 0, 1, 1], np.int32), ("a", "b"))
    boards, pins = np.array([(0, 0), (0, 1), (0, 2), (1, 0), (1, 3), (1, 4)]).T
    g = Graph.from_edges(5, 2, boards, pins, pin_attributes={"topic": topic})
    params = {"steps": 3_000, "alpha": 1.0, "boost": False, "credit": "expected"}
    # Pin 3 is on board 1 only, and every step restarts: each step credits 1/3 to pins 0, 3, 4.
    v = visits(create("pixie", params).fit(g), [3], exclude=[])
    assert np.allclose(v, [1_000, 0, 0, 1_000, 1_000])
    # Pin-side bias 0.5 towards topic a: on board 1, pin 0 gets 0.5 + 0.5 / 3, pins 3, 4 get
    # 0.5 / 3 each; on board 0 (all a) every pin gets 1/3.
    biased = visits(
        create("pixie", params | {"bias": 0.5, "bias_side": "pin"}).fit(g), [0], 5, exclude=[]
    )
    c0, c1 = 3 * biased[1], 6 * biased[3]  # the visits of board 0 and board 1
    assert np.isclose(c0 + c1, 3_000) and np.isclose(c0, round(c0)) and 0 < c0 < 3_000
    assert np.isclose(biased[1], biased[2]) and np.isclose(biased[3], biased[4])
    assert np.isclose(biased[0], c0 / 3 + c1 * (0.5 + 0.5 / 3))


def test_biased_walk_rows_are_sorted_by_topic_then_id() -> None:
    g = random_graph(n_pins=50, n_boards=20, per_board=8, seed=3, topics=4)
    codes = g.pin_attributes["topic"].codes.copy()
    codes[::7] = -1  # pins without a topic sort first
    rows = np.repeat(np.arange(g.n_boards), g.board_degree)
    order = np.lexsort((g.board_pins, codes[g.board_pins], rows))
    pins, pin_codes = walks._sort_segments(g.board_indptr, g.board_pins, codes)
    assert np.array_equal(pins, g.board_pins[order])
    assert np.array_equal(pin_codes, codes[g.board_pins[order]])
