"""Fusion helpers and visual_eval against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.visual import reciprocal_rank_fusion, visual_eval, weighted_score_fusion

A = (["a", "b", "c"], [0.9, 0.5, 0.1])
B = (["b", "c", "d"], [10.0, 4.0, 2.0])


def test_reciprocal_rank_fusion() -> None:
    ids, scores = reciprocal_rank_fusion([A, B], k=60)
    assert ids == ["b", "c", "a", "d"]
    assert scores == pytest.approx([1 / 62 + 1 / 61, 1 / 63 + 1 / 62, 1 / 61, 1 / 63])
    ids, scores = reciprocal_rank_fusion([A, B], k=60, weights=[2, 1])
    assert ids == ["b", "c", "a", "d"]
    assert scores == pytest.approx([2 / 62 + 1 / 61, 2 / 63 + 1 / 62, 2 / 61, 1 / 63])
    ids, scores = reciprocal_rank_fusion([A, B], k=1, weights=[0, 1])
    assert ids == ["b", "c", "d", "a"] and scores[-1] == 0
    # Ties keep first-seen order.
    assert reciprocal_rank_fusion([(["x", "y"], [1, 1]), (["y", "x"], [1, 1])])[0] == ["x", "y"]
    assert reciprocal_rank_fusion([]) == ([], [])
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([A], weights=[1, 2])
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([(["a"], [1.0, 2.0])])


def test_weighted_score_fusion() -> None:
    ids, scores = weighted_score_fusion([A, B], weights=[1, 2])
    # minmax: A -> a 1, b .5, c 0; B -> b 1, c .25, d 0.
    assert ids == ["b", "a", "c", "d"]
    assert scores == pytest.approx([2.5, 1.0, 0.5, 0.0])
    ids, scores = weighted_score_fusion([A, B], weights=None, normalise="zscore")
    za = (np.array(A[1]) - 0.5) / np.std(A[1])
    zb = (np.array(B[1]) - np.mean(B[1])) / np.std(B[1])
    assert ids == ["b", "a", "d", "c"]
    assert scores == pytest.approx([zb[0], za[0], zb[2], za[2] + zb[1]])
    ids, scores = weighted_score_fusion([A, B], weights=[1, 1], normalise="none")
    assert ids == ["b", "c", "d", "a"]
    assert scores == pytest.approx([10.5, 4.1, 2.0, 0.9])
    ids, scores = weighted_score_fusion([A, B], weights=[1, 1], normalise="rank")
    assert dict(zip(ids, scores, strict=True)) == pytest.approx(
        {"a": 1.0, "b": 2 / 3 + 1.0, "c": 1 / 3 + 2 / 3, "d": 1 / 3}
    )
    # All-equal scores: minmax maps them to 1.
    assert weighted_score_fusion([(["x", "y"], [3.0, 3.0])], [1])[1] == [1.0, 1.0]
    with pytest.raises(ValueError, match="normalise"):
        weighted_score_fusion([A], [1], normalise="softmax")


def test_visual_eval_hand_computed() -> None:
    x = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1], [-1, 0]], dtype=np.float32)
    labels = ["A", "A", "B", "B", "C"]
    # k=2: query 0 -> [1, 2] rel [1, 0]; 1 -> [2, 0] rel [0, 1]; 2 -> [1, 3] rel [0, 1];
    # 3 -> [2, 1] rel [1, 0]. R = 1 for each; "C" has no partner and is skipped.
    r = visual_eval(x, labels, k=2)
    assert r == {"precision@2": pytest.approx(0.5), "map@2": pytest.approx(0.75), "queries": 4}
    r = visual_eval(x, labels, k=3)
    assert r["precision@3"] == pytest.approx(1 / 3) and r["map@3"] == pytest.approx(0.75)
    # R = 2: AP@2 is divided by min(k, R) = 2.
    y = np.array([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]], dtype=np.float32)
    r = visual_eval(y, ["A", "A", "B", "A"], k=2)
    assert r["precision@2"] == pytest.approx(2.5 / 3) and r["map@2"] == pytest.approx(2.5 / 3)
    assert r["queries"] == 3
    # Missing labels are never queries and never relevant; sampling is seeded.
    # Query 0 -> [1 (no label), 3] rel [0, 1]; query 3 -> [1, 2] rel [0, 0].
    r = visual_eval(y, ["A", None, "B", "A"], k=2)
    assert r["queries"] == 2
    assert r["precision@2"] == pytest.approx(0.25) and r["map@2"] == pytest.approx(0.25)
    assert visual_eval(x, labels, k=2, sample=2)["queries"] == 2
    assert visual_eval(x, labels, k=2, sample=2, seed=3) == visual_eval(
        x, labels, k=2, sample=2, seed=3
    )


def test_visual_eval_ties_do_not_follow_input_order() -> None:
    # Every item is identical: neighbours are a random draw, so precision ~ share of relevant.
    n = 400
    x = np.ones((n, 3), dtype=np.float32)
    labels = ["A"] * 40 + ["B"] * (n - 40)
    r = visual_eval(x, labels, k=10)
    expected = (40 * 39 / (n - 1) + (n - 40) * (n - 41) / (n - 1)) / n
    assert abs(r["precision@10"] - expected) < 0.03
    with pytest.raises(ValueError):
        visual_eval(x, labels[:-1])
