"""Ranking metrics: hand-computed values, a brute-force definition, and trec_eval (via ir_measures,
when installed) on random small rankings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.engine import metrics as M


def test_accuracy_hand_computed() -> None:
    # Relevant pins at ranks 2 and 4 of 5; the board has 3 relevant pins in all.
    hits = np.array([[0, 1, 0, 1, 0]], dtype=bool)
    got = {m: float(v[0]) for m, v in M.accuracy(hits, np.array([3]), 5).items()}
    ndcg = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert got == pytest.approx(
        {
            "hr": 1.0,
            "precision": 0.4,
            "recall": 2 / 3,
            "ndcg": ndcg,
            "mrr": 0.5,
            "map": (1 / 2 + 2 / 4) / 3,
        }
    )
    at1 = M.accuracy(hits, np.array([3]), 1)
    assert all(float(v[0]) == 0.0 for v in at1.values())


def test_leave_one_out_values() -> None:
    # One relevant pin per board at ranks 1, 3 and beyond the cutoff.
    hits = np.zeros((3, 10), dtype=bool)
    hits[0, 0] = hits[1, 2] = True
    got = M.accuracy(hits, np.ones(3), 10)
    assert got["hr"].tolist() == [1, 1, 0]
    assert got["ndcg"].tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert got["mrr"].tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    assert got["map"].tolist() == pytest.approx([1.0, 1 / 3, 0.0])


def _brute(row: list[bool], n_rel: int, k: int) -> dict[str, float]:
    """The textbook definitions, one rank at a time."""
    top = row[:k]
    found = sum(top)
    dcg = sum(1 / math.log2(i + 2) for i, r in enumerate(top) if r)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(n_rel, k)))
    first = next((i + 1 for i, r in enumerate(top) if r), None)
    ap = sum(sum(top[: i + 1]) / (i + 1) for i, r in enumerate(top) if r) / n_rel
    return {
        "hr": float(found > 0),
        "precision": found / k,
        "recall": found / n_rel,
        "ndcg": dcg / idcg,
        "mrr": 1 / first if first else 0.0,
        "map": ap,
    }


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.booleans(), min_size=8, max_size=8), st.integers(0, 4)),
        min_size=1,
        max_size=6,
    ),
    st.integers(1, 8),
)
def test_accuracy_matches_brute_force(rows: list[tuple[list[bool], int]], k: int) -> None:
    hits = np.array([r for r, _ in rows], dtype=bool)
    n_rel = np.array([max(sum(r) + extra, 1) for r, extra in rows])
    got = M.accuracy(hits, n_rel, k)
    for i, (row, _) in enumerate(rows):
        want = _brute(row, int(n_rel[i]), k)
        for m in M.ACCURACY:
            assert got[m][i] == pytest.approx(want[m]), m


def test_accuracy_matches_trec_eval() -> None:
    ir = pytest.importorskip("ir_measures")
    rng = np.random.default_rng(3)
    qrels, run, hits, n_rel = [], [], [], []
    for q in range(25):
        relevant = set(rng.choice(30, size=int(rng.integers(1, 6)), replace=False).tolist())
        ranking = rng.permutation(30)[:15]
        qrels += [ir.Qrel(f"q{q}", f"d{d}", 1) for d in relevant]
        run += [ir.ScoredDoc(f"q{q}", f"d{d}", 100.0 - i) for i, d in enumerate(ranking)]
        hits.append([d in relevant for d in ranking])
        n_rel.append(len(relevant))
    for k in (1, 5, 10):
        ours = {
            m: float(v.mean()) for m, v in M.accuracy(np.array(hits), np.array(n_rel), k).items()
        }
        measures = {
            "hr": ir.Success @ k,
            "precision": ir.P @ k,
            "recall": ir.R @ k,
            "ndcg": ir.nDCG @ k,
            "mrr": ir.RR @ k,
            "map": ir.AP @ k,
        }
        theirs = ir.calc_aggregate(list(measures.values()), qrels, run)
        for name, measure in measures.items():
            assert ours[name] == pytest.approx(theirs[measure], abs=1e-9), (name, k)


def test_cutoff_beyond_the_lists_measures_the_whole_list() -> None:
    # Rankings are capped at the number of candidates: a cutoff of 10 over lists of 5 counts
    # every listed pin, and precision still divides by the 10 slots asked for.
    hits = np.array([[False, False, True, False, False]])
    at5, at10 = M.accuracy(hits, np.ones(1), 5), M.accuracy(hits, np.ones(1), 10)
    assert at10["hr"][0] == at5["hr"][0] == 1.0 and at10["ndcg"][0] == at5["ndcg"][0]
    assert at10["precision"][0] == pytest.approx(0.1)
    huge = M.accuracy(hits, np.ones(1), 2_000_000_000)  # no array the size of the cutoff
    assert huge["recall"][0] == 1.0
    assert M.coverage(np.array([[0, 1]]), 50, 4) == 0.5
    with pytest.raises(ValueError):
        M.accuracy(np.zeros((1, 5), dtype=bool), np.ones(1), 0)
    with pytest.raises(ValueError):
        M.accuracy(np.zeros((1, 5), dtype=bool), np.zeros(1), 5)


def test_coverage_and_gini_hand_computed() -> None:
    top = np.array([[0, 1], [0, 2], [0, -1]])
    assert M.coverage(top, 2, 5) == pytest.approx(3 / 5)
    assert M.coverage(top, 1, 5) == pytest.approx(1 / 5)
    # counts over 5 pins: [3, 1, 1, 0, 0] -> sorted [0, 0, 1, 1, 3]
    counts = np.array([0, 0, 1, 1, 3.0])
    i = np.arange(1, 6)
    assert M.gini(top, 2, 5) == pytest.approx(((2 * i - 6) * counts).sum() / (5 * 5))
    # Every pin recommended equally often: 0; one pin takes every slot: (n - 1) / n.
    assert M.gini(np.array([[0, 1], [2, 3]]), 2, 4) == pytest.approx(0.0)
    assert M.gini(np.array([[0], [0], [0]]), 1, 4) == pytest.approx(3 / 4)


def test_gini_matches_mean_absolute_difference() -> None:
    rng = np.random.default_rng(0)
    top = rng.integers(0, 12, size=(30, 4))
    counts = np.bincount(top.ravel(), minlength=12).astype(float)
    # Gini = sum_ij |x_i - x_j| / (2 n^2 mean)
    want = np.abs(counts[:, None] - counts[None, :]).sum() / (2 * 12**2 * counts.mean())
    assert M.gini(top, 4, 12) == pytest.approx(want)


def test_popularity_novelty_diversity() -> None:
    popularity = np.array([10.0, 5.0, 1.0, 0.0])
    top = np.array([[0, 1, 3], [2, -1, -1]])
    assert M.popularity_of_lists(top, 3, popularity).tolist() == pytest.approx([5.0, 1.0])
    nov = M.novelty_of_lists(top, 3, popularity, n_boards=20)
    assert nov[0] == pytest.approx(
        (-math.log2(10 / 20) - math.log2(5 / 20) - math.log2(1 / 20)) / 3
    )
    assert nov[1] == pytest.approx(-math.log2(1 / 20))
    categories = np.array([0, 0, 1, -1])
    div = M.diversity_of_lists(np.array([[0, 1, 2], [0, 1, -1], [0, 3, -1]]), 3, categories)
    assert div[0] == pytest.approx(2 / 3)  # pairs (0,1) same, (0,2) and (1,2) differ
    assert div[1] == pytest.approx(0.0)
    assert math.isnan(div[2])  # one categorised pin: no pair


def test_diversity_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(1)
    categories = rng.integers(-1, 4, size=20)
    top = rng.permutation(20)[:12].reshape(2, 6)
    got = M.diversity_of_lists(top, 6, categories)
    for row, value in zip(top, got, strict=True):
        codes = [categories[p] for p in row if categories[p] >= 0]
        pairs = [(a, b) for i, a in enumerate(codes) for b in codes[i + 1 :]]
        want = sum(a != b for a, b in pairs) / len(pairs) if pairs else math.nan
        assert value == pytest.approx(want, nan_ok=True)
