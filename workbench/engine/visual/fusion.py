"""Hybrid fusion of rankings (e.g. visual + graph): reciprocal-rank and weighted-score fusion.

Both take a list of rankings, each ``(ids, scores)`` best first, and return one fused
``(ids, scores)`` best first. Ties keep the order in which ids were first seen (ranking by
ranking, position by position), so results are deterministic. Pure functions.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["Ranking", "reciprocal_rank_fusion", "weighted_score_fusion"]

Ranking = tuple[Sequence[Hashable], Sequence[float]]


def _check(rankings: Sequence[Ranking], weights: Sequence[float] | None) -> list[float]:
    for i, (ids, scores) in enumerate(rankings):
        if len(ids) != len(scores):
            raise ValueError(f"ranking {i} has {len(ids)} ids but {len(scores)} scores")
        if len(set(ids)) != len(ids):
            raise ValueError(f"ranking {i} lists an id twice")
    if weights is None:
        return [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    return [float(w) for w in weights]


def _sorted(total: dict[Hashable, float]) -> tuple[list[Hashable], list[float]]:
    # dict order is first-seen order; a stable sort on -score keeps it for ties.
    items = sorted(total.items(), key=lambda kv: -kv[1])
    return [k for k, _ in items], [v for _, v in items]


def reciprocal_rank_fusion(
    rankings: Sequence[Ranking],
    k: float = 60,
    weights: Sequence[float] | None = None,
) -> tuple[list[Hashable], list[float]]:
    """score(d) = sum_r w_r / (k + rank_r(d)), rank starting at 1 (scores are not used).

    Cormack, Clarke & Büttcher, "Reciprocal rank fusion outperforms Condorcet and individual
    rank learning methods", SIGIR 2009 (k = 60 there). An id missing from a ranking gets
    nothing from it.
    """
    w = _check(rankings, weights)
    total: dict[Hashable, float] = {}
    for (ids, _), wr in zip(rankings, w, strict=True):
        for rank, d in enumerate(ids, start=1):
            total[d] = total.get(d, 0.0) + wr / (k + rank)
    return _sorted(total)


def _normalised(scores: Sequence[float], how: str) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0 or how == "none":
        return s
    if how == "minmax":
        lo, hi = s.min(), s.max()
        return np.ones_like(s) if hi == lo else (s - lo) / (hi - lo)
    if how == "zscore":
        sd = s.std()
        return np.zeros_like(s) if sd == 0 else (s - s.mean()) / sd
    if how == "rank":
        # 1 for the first, falling linearly to 1/n for the last.
        n = s.size
        return (n - np.arange(n)) / n
    raise ValueError(f"normalise must be 'minmax', 'zscore', 'rank' or 'none', not {how!r}")


def weighted_score_fusion(
    rankings: Sequence[Ranking],
    weights: Sequence[float] | None,
    normalise: str = "minmax",
) -> tuple[list[Hashable], list[float]]:
    """score(d) = sum_r w_r * norm_r(score_r(d)); an id missing from a ranking adds 0.

    ``normalise`` maps each ranking's scores first: "minmax" to [0, 1] (all equal -> 1),
    "zscore" to zero mean and unit variance (all equal -> 0), "rank" to (n - i) / n by
    position i, "none" leaves them. ``weights=None`` weighs rankings equally.
    """
    w = _check(rankings, weights)
    total: dict[Hashable, float] = {}
    for (ids, scores), wr in zip(rankings, w, strict=True):
        for d, v in zip(ids, _normalised(scores, normalise), strict=True):
            total[d] = total.get(d, 0.0) + wr * float(v)
    return _sorted(total)
