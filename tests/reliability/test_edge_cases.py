"""Numerical edge cases for every algorithm: isolated pins, a query pin with no boards, a board
with one pin, all-zero scores, and k larger than the candidate list."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.graph import Graph
from workbench.engine.recommenders import ALGORITHMS, Query, board_query, create

SMALL = {
    "pixie": {"steps": "500"},
    "ppr": {},
    "itemknn": {"topk": "5"},
    "p3alpha": {"topk": "5"},
    "rp3beta": {"topk": "5"},
    "popular": {},
}


@pytest.fixture(scope="module")
def graph() -> Graph:
    # pins 0-3 on boards 0-1; pin 4 alone on board 2 (a board with one pin); pins 5, 6 isolated
    boards = np.array([0, 0, 0, 1, 1, 2])
    pins = np.array([0, 1, 2, 2, 3, 4])
    return Graph.from_edges(7, 3, boards, pins)


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_every_algorithm_survives_the_edge_cases(graph: Graph, algo: str) -> None:
    model = create(algo, SMALL.get(algo, {})).fit(graph)
    isolated = model.recommend(Query(np.array([5])), k=10)
    assert np.isfinite(isolated.scores).all() and 5 not in isolated.pins
    lonely = model.recommend(board_query(graph, 2), k=10)  # its only pin is excluded
    assert 4 not in lonely.pins and np.isfinite(lonely.scores).all()
    big_k = model.recommend(Query(np.array([0])), k=1000)
    assert big_k.pins.size <= graph.n_pins - 1 and len(set(big_k.pins.tolist())) == big_k.pins.size
    assert np.all(np.diff(big_k.scores) <= 0)
    cands = np.array([5, 6, 3], dtype=np.int32)  # two candidates no walk can reach
    scores = model.score(Query(np.array([0])), cands)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    assert model.recommend(Query(np.array([0])), k=0).pins.size == 0


def test_walk_from_an_isolated_pin_scores_nothing(graph: Graph) -> None:
    ranking = create("pixie", {"steps": "1000"}).fit(graph).recommend(Query(np.array([6])), k=5)
    assert ranking.pins.size == 0


@pytest.mark.parametrize("algo", ["p3alpha", "rp3beta"])
def test_alpha_zero_is_in_range_and_works(graph: Graph, algo: str) -> None:
    ranking = create(algo, {"alpha": "0", "topk": "5"}).fit(graph).recommend(Query(np.array([0])))
    assert ranking.pins.size > 0 and np.isfinite(ranking.scores).all()
